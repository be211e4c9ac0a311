package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.SourceRef;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.AzureSource;
import dev.modelcache.source.FileSource;
import dev.modelcache.source.GcsSource;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.OciSource;
import dev.modelcache.source.S3Source;
import dev.modelcache.source.UrlSource;
import dev.modelcache.store.CacheStore;
import dev.modelcache.threads.NamedThreads;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sources of a config and the one HTTP client they share, closed together: each source (the S3
 * and Azure sources' SDK clients, connections and threads), then the HTTP client's threads and idle
 * connections.
 *
 * <pre>{@code
 * try (Sources sources = Sources.of(config);
 *     Fetcher fetcher = sources.fetcher(config, store, states, clock)) {
 *   fetcher.fetch(model);
 * }
 * }</pre>
 */
final class Sources implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Sources.class);

  private final Map<SourceRef.Scheme, ModelSource> byScheme;
  private final NamedThreads httpThreads = NamedThreads.numbered("modelcache-http");
  private final @Nullable ExecutorService httpDispatcher; // null when no HTTP client was built
  private final @Nullable OkHttpClient http;

  /** {@code byScheme}, which the new instance owns and closes. */
  Sources(Map<SourceRef.Scheme, ModelSource> byScheme) {
    this.byScheme = Map.copyOf(byScheme);
    this.httpDispatcher = null;
    this.http = null;
  }

  private Sources(Config config) {
    this.httpDispatcher = Executors.newCachedThreadPool(httpThreads);
    this.http =
        new OkHttpClient.Builder()
            .dispatcher(new Dispatcher(httpDispatcher))
            .connectTimeout(Duration.ofSeconds(15))
            .readTimeout(Duration.ofSeconds(60))
            .callTimeout(Duration.ZERO)
            .build();
    this.byScheme =
        Map.of(
            SourceRef.Scheme.FILE, new FileSource(),
            SourceRef.Scheme.HF, new HuggingFaceSource(config.sources().hf(), http),
            SourceRef.Scheme.S3, new S3Source(),
            SourceRef.Scheme.GCS, new GcsSource(config.sources().gcs(), http, System.getenv()),
            SourceRef.Scheme.URL, new UrlSource(http),
            SourceRef.Scheme.OCI, new OciSource(config.sources().oci(), http),
            SourceRef.Scheme.AZURE, new AzureSource(config.sources().azure(), System.getenv()));
  }

  /**
   * The sources of {@code config}; the HTTP client (whose TLS set-up costs about half a second at
   * start) is built only when a model needs it.
   */
  static Sources of(Config config) {
    boolean remote =
        config.models().stream().anyMatch(m -> m.source().scheme() != SourceRef.Scheme.FILE);
    return remote ? all(config) : new Sources(Map.of(SourceRef.Scheme.FILE, new FileSource()));
  }

  /** Every source, whatever the config's models need ({@code mirror} names its own). */
  static Sources all(Config config) {
    return new Sources(config);
  }

  Map<SourceRef.Scheme, ModelSource> byScheme() {
    return byScheme;
  }

  /**
   * A fetcher over these sources for a one-shot command ('fetch', 'lock'), meters kept in memory;
   * close it before the sources.
   */
  Fetcher fetcher(Config config, CacheStore store, ModelStates states, Clock clock) {
    return new Fetcher(
        store,
        byScheme,
        states,
        new Metrics(new SimpleMeterRegistry()),
        clock,
        config.cache().offline(),
        CacheLimits.forCommand(config, store, clock));
  }

  /** Closes every source, then the HTTP client's threads and connections. */
  @Override
  public void close() {
    for (Map.Entry<SourceRef.Scheme, ModelSource> source : byScheme.entrySet()) {
      try {
        source.getValue().close();
      } catch (RuntimeException e) {
        log.warn("{} source - closing it failed: {}", source.getKey(), e.toString());
      }
    }
    if (http != null && httpDispatcher != null) { // built together
      httpThreads.stop(httpDispatcher, NamedThreads.STOP_WAIT, log);
      http.connectionPool().evictAll();
    }
  }
}
