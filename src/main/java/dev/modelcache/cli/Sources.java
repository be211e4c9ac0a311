package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.SourceRef;
import dev.modelcache.source.FileSource;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.S3Source;
import java.time.Duration;
import java.util.Map;
import okhttp3.OkHttpClient;

/** Builds the sources of a config, and the one HTTP client they share. */
final class Sources {
  private Sources() {}

  static OkHttpClient httpClient() {
    return new OkHttpClient.Builder()
        .connectTimeout(Duration.ofSeconds(15))
        .readTimeout(Duration.ofSeconds(60))
        .callTimeout(Duration.ZERO)
        .build();
  }

  /**
   * The sources of {@code config}; the HTTP client (whose TLS set-up costs about half a second at
   * start) is built only when a model needs it.
   */
  static Map<SourceRef.Scheme, ModelSource> of(Config config) {
    boolean remote =
        config.models().stream().anyMatch(m -> m.source().scheme() != SourceRef.Scheme.FILE);
    return remote ? of(config, httpClient()) : Map.of(SourceRef.Scheme.FILE, new FileSource());
  }

  static Map<SourceRef.Scheme, ModelSource> of(Config config, OkHttpClient http) {
    return Map.of(
        SourceRef.Scheme.FILE, new FileSource(),
        SourceRef.Scheme.HF, new HuggingFaceSource(config.sources().hf(), http),
        SourceRef.Scheme.S3, new S3Source());
  }

  /**
   * A fetcher for a one-shot command ('fetch', 'lock'): the config's sources, meters kept in
   * memory.
   */
  static dev.modelcache.fetch.Fetcher fetcher(
      Config config,
      dev.modelcache.store.CacheStore store,
      dev.modelcache.metrics.ModelStates states,
      java.time.Clock clock) {
    return new dev.modelcache.fetch.Fetcher(
        store,
        of(config),
        states,
        new dev.modelcache.metrics.Metrics(
            new io.micrometer.core.instrument.simple.SimpleMeterRegistry()),
        clock,
        config.cache().offline());
  }
}
