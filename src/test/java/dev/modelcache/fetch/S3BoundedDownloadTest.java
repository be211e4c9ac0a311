package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.S3Source;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.s3.FaultProxy;
import dev.modelcache.source.s3.S3Server;
import dev.modelcache.store.CacheStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An S3 server (S3Proxy behind the fault proxy) that sends more bytes than the object's listed
 * size: the download is cut off at the expected size and refused, naming both sizes.
 */
class S3BoundedDownloadTest {
  /** 300 000 ASCII bytes: the proxy's rewrite works on text. */
  private static final byte[] OBJECT =
      "0123456789abcdef".repeat(18_750).getBytes(StandardCharsets.US_ASCII);

  @TempDir Path tmp;
  private S3Server s3;
  private FaultProxy proxy;
  private Fetcher fetcher;
  private final List<Duration> sleeps = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    s3 = S3Server.start();
    proxy = FaultProxy.start(s3.port());
    s3.bucket("models");
    s3.put("models", "org/m/model.bin", OBJECT, true);
  }

  @AfterEach
  void stop() throws Exception {
    if (fetcher != null) {
      fetcher.close();
    }
    proxy.close();
    s3.close();
  }

  private void fetch(long rangedMinBytes) throws Exception {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  s3:\n    endpoint: "
            + proxy.endpoint()
            + "\n    path_style: true\nmodels:\n  - name: m\n    source: s3://models/org/m\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    fetcher =
        new Fetcher(
            new CacheStore(config.cache().dir()),
            Map.of(SourceRef.Scheme.S3, new S3Source()),
            new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            false,
            new Backoff(
                4,
                Duration.ofMillis(100),
                Duration.ofSeconds(2),
                Duration.ofSeconds(30),
                () -> 1.0),
            sleeps::add,
            rangedMinBytes);
    fetcher.fetch(config.models().get(0));
  }

  @Test
  void anObjectLongerThanListedIsCutOffAndRefused() {
    // every "f0" becomes "f00": 18 749 bytes more than the listing said
    proxy.fault(FaultProxy.rewrite("GET", "/models/org/m/model.bin", "f0", "f00"));
    assertThatThrownBy(() -> fetch(Fetcher.RANGED_MIN_BYTES))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - model.bin: the source sent more bytes than expected for the file (expected 300000,"
                + " received 318749); it was cut off at the expected size and dropped: the source is"
                + " misbehaving or the file changed since it was listed; fetch again, and if it"
                + " persists report it upstream");
    assertNothingKept();
  }

  @Test
  void aRangeLongerThanAskedIsCutOffAndRefused() {
    proxy.fault(FaultProxy.rewrite("GET", "/models/org/m/model.bin", "f0", "f00"));
    assertThatThrownBy(() -> fetch(64 * 1024))
        .isInstanceOf(SourceException.class)
        .hasMessageMatching(
            "m - model\\.bin: the source sent more bytes than expected for bytes"
                + " (0-74999|75000-149999|150000-224999|225000-299999) of the file \\(expected"
                + " 75000, received 7[5-9]\\d\\d\\d; the file is 300000 bytes as listed\\); it was"
                + " cut off at the expected size and dropped: .*");
    assertNothingKept();
  }

  private void assertNothingKept() {
    assertThat(TestModels.filesUnder(tmp.resolve("cache/s3"))).isEmpty();
    assertThat(TestModels.filesUnder(tmp.resolve("cache/.modelcache/parts"))).isEmpty();
    assertThat(sleeps).as("a misbehaving server is not retried").isEmpty();
  }
}
