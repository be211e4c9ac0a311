package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.s3.FaultProxy;
import dev.modelcache.source.s3.S3Server;
import dev.modelcache.store.InstalledSnapshot;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An outage of S3 is not an outage of the cache: with the endpoint unreachable (closed port) or
 * answering SlowDown after the retries, the snapshot fetched and verified before is served; a 403
 * still fails.
 */
class S3OutageTest extends OutageFixture {
  private final S3Server s3 = startS3();
  private final FaultProxy proxy = startProxy();

  private S3Server startS3() {
    try {
      S3Server server = S3Server.start();
      server.bucket("models");
      server.put("models", "org/m/model.bin", WEIGHTS, true);
      server.put("models", "org/m/config.json", CONFIG, true);
      return server;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private FaultProxy startProxy() {
    try {
      return FaultProxy.start(s3.port());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @AfterEach
  void stop() throws Exception {
    proxy.close();
    s3.close();
  }

  private Config at(String endpoint) {
    return config(
        "  s3:\n    endpoint: " + endpoint + "\n    path_style: true\n",
        "  - name: m\n    source: s3://models/org/m\n");
  }

  @Test
  void aClosedPortServesTheCachedSnapshot() throws Exception {
    InstalledSnapshot first = fetch(at(proxy.endpoint().toString()));
    proxy.close();

    InstalledSnapshot served = fetch(at(proxy.endpoint().toString()));

    assertThat(served.id()).isEqualTo(first.id());
    assertThat(sleeps).isEmpty();
    assertThat(states.stale("m").orElseThrow().reason())
        .startsWith(
            "m - listing s3://models/org/m: cannot reach the S3 endpoint "
                + proxy.endpoint()
                + " (ConnectException: ");
    assertThat(unreachableGauge()).isEqualTo(1.0);
  }

  @Test
  void aSlowDownStormFallsBackAfterTheRetriesAndTheNextCheckCatchesUp() throws Exception {
    InstalledSnapshot first = fetch(at(proxy.endpoint().toString()));
    ModelConfig model = at(proxy.endpoint().toString()).models().get(0);
    try (Fetcher fetcher = fetcher(at(proxy.endpoint().toString()))) {
      for (int i = 0; i < ATTEMPTS; i++) {
        proxy.fault(FaultProxy.error("GET", "/models", 503, "SlowDown"));
      }
      sleeps.clear();

      assertThat(fetcher.fetch(model).id()).isEqualTo(first.id());
      assertThat(sleeps).hasSize(ATTEMPTS - 1);
      assertThat(states.stale("m")).isPresent();

      s3.put("models", "org/m/config.json", "{}".getBytes(StandardCharsets.UTF_8), true);
      assertThat(fetcher.fetch(model).id()).isNotEqualTo(first.id());
      assertThat(states.stale("m")).isEmpty();
      assertThat(unreachableGauge()).isEqualTo(0.0);
    }
  }

  @Test
  void accessDeniedIsNotAnOutage() throws Exception {
    fetch(at(proxy.endpoint().toString()));
    proxy.fault(FaultProxy.error("GET", "/models", 403, "AccessDenied"));
    assertThatThrownBy(() -> fetch(at(proxy.endpoint().toString())))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith(
            "m - listing s3://models/org/m: access denied (AccessDenied, HTTP 403)");
    assertThat(states.stale("m")).isEmpty();
  }
}
