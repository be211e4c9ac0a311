package dev.modelcache.fetch;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.S3Source;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the outage tests share: a fetcher built fresh per "process" on one cache, with recorded
 * backoff pauses and a registry holding the per-model gauges. See {@link HubOutageTest} and {@link
 * S3OutageTest}.
 */
abstract class OutageFixture {
  static final byte[] WEIGHTS = "weights of the model".getBytes(StandardCharsets.UTF_8);
  static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);
  static final int ATTEMPTS = 4;

  @TempDir Path tmp;
  final List<Duration> sleeps = new ArrayList<>();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  ModelStates states;

  /** The Hub source's HTTP client; a test may give it a resolver that knows no name. */
  OkHttpClient http = new OkHttpClient();

  /** A fresh fetcher, as a new process would build it, on the shared cache. */
  Fetcher fetcher(Config config) {
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    states = new ModelStates(names, Set.copyOf(names), Clock.systemUTC());
    registry.clear();
    Metrics metrics = new Metrics(registry);
    metrics.bindModels(states, names);
    return new Fetcher(
        new dev.modelcache.store.CacheStore(config.cache().dir()),
        Map.of(
            SourceRef.Scheme.HF,
            new HuggingFaceSource(config.sources().hf(), http),
            SourceRef.Scheme.S3,
            new S3Source()),
        states,
        metrics,
        Clock.systemUTC(),
        false,
        new Backoff(
            ATTEMPTS,
            Duration.ofMillis(100),
            Duration.ofSeconds(2),
            Duration.ofSeconds(1),
            () -> 1),
        sleeps::add,
        Fetcher.RANGED_MIN_BYTES);
  }

  Config config(String sources, String model) {
    return new ConfigLoader(Map.of(), tmp)
        .parse(
            "cache:\n  dir: "
                + tmp.resolve("cache")
                + "\nsources:\n"
                + sources
                + "models:\n"
                + model,
            "test config",
            tmp);
  }

  InstalledSnapshot fetch(Config config) throws Exception {
    return fetch(config, Optional.empty());
  }

  InstalledSnapshot fetch(Config config, Optional<Lockfile.Locked> lock) throws Exception {
    sleeps.clear();
    try (Fetcher fetcher = fetcher(config)) {
      return fetcher.fetch(config.models().get(0), lock, false);
    }
  }

  double unreachableGauge() {
    return registry.get(Metrics.MODEL_SOURCE_UNREACHABLE).tag("model", "m").gauge().value();
  }

  static int closedPort() throws Exception {
    try (java.net.ServerSocket socket =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
