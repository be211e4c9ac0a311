package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Recorded;
import dev.modelcache.store.CacheStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HF token goes to the endpoint's host name only, on every request: tree pages and redirects
 * that lead to another host name (127.0.0.1 and localhost are two hosts, even on one listener) get
 * no {@code Authorization}.
 */
class TokenHostTest {
  private static final String TOKEN = "hf_token_for_the_endpoint_only";

  @TempDir Path tmp;
  private FakeHub hub;
  private String otherHost;

  @BeforeEach
  void startHub() throws Exception {
    hub = FakeHub.start();
    hub.repo("org/name")
        .file("a.json", "{}".getBytes(StandardCharsets.UTF_8), false)
        .file("b.bin", new byte[] {1, 2, 3}, true)
        .file("c.txt", "c\n".getBytes(StandardCharsets.UTF_8), false)
        .commit("main");
    // the same API listener, under a host name other than the endpoint's
    otherHost = "http://127.0.0.1:" + URI.create(hub.endpoint()).getPort();
  }

  @AfterEach
  void stop() {
    hub.close();
  }

  private void fetch() throws Exception {
    Config config =
        new ConfigLoader(Map.of("HF_TOKEN", TOKEN), tmp)
            .parse(
                "cache:\n  dir: "
                    + tmp.resolve("cache")
                    + "\nsources:\n  hf:\n    endpoint: "
                    + hub.endpoint()
                    + "\nmodels:\n  - name: m\n    source: hf://org/name\n",
                "test config",
                tmp);
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(config.cache().dir()),
            Map.of(
                SourceRef.Scheme.HF,
                new HuggingFaceSource(config.sources().hf(), new OkHttpClient())),
            new ModelStates(List.of("m"), Set.of("m"), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            false)) {
      fetcher.fetch(config.models().get(0));
    }
  }

  private List<Recorded> requestsTo(String hostName, String pathContains) {
    return hub.requests().stream()
        .filter(r -> FakeHub.hostName(r).equals(hostName) && r.path().contains(pathContains))
        .toList();
  }

  @Test
  void treePagesOnAnotherHostGetNoToken() throws Exception {
    hub.pageSize(1);
    hub.linkBase(otherHost);

    fetch();

    assertThat(requestsTo("localhost", "/tree/"))
        .hasSize(1)
        .allSatisfy(r -> assertThat(r.headers()).containsEntry("authorization", "Bearer " + TOKEN));
    assertThat(requestsTo("127.0.0.1", "/tree/"))
        .hasSize(2)
        .allSatisfy(r -> assertThat(r.headers()).doesNotContainKey("authorization"));
  }

  @Test
  void redirectsToAnotherHostGetNoToken() throws Exception {
    hub.redirectOnce("/revision/main", otherHost);
    hub.redirectOnce("/tree/", otherHost);

    fetch();

    assertThat(requestsTo("127.0.0.1", "/api/"))
        .extracting(Recorded::path)
        .anyMatch(p -> p.contains("/revision/main"))
        .anyMatch(p -> p.contains("/tree/"));
    assertThat(requestsTo("127.0.0.1", ""))
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.headers()).doesNotContainKey("authorization"));
    assertThat(requestsTo("localhost", ""))
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.headers()).containsEntry("authorization", "Bearer " + TOKEN));
  }
}
