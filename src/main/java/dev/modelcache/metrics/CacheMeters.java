package dev.modelcache.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cache's size limit ({@code cache.max_bytes}): {@code modelcache_cache_max_bytes} (0 when
 * there is none), {@code modelcache_cache_evictions_total} (snapshots evicted, least recently used
 * first, to make room for a fetch), {@code modelcache_cache_evicted_bytes_total} (the bytes they
 * freed) and {@code modelcache_cache_eviction_failures_total} (fetches refused because even
 * eviction could not make room), all registered at zero.
 */
public final class CacheMeters {
  public static final String MAX_BYTES = "modelcache.cache.max";
  public static final String EVICTIONS = "modelcache.cache.evictions";
  public static final String EVICTED_BYTES = "modelcache.cache.evicted";
  public static final String EVICTION_FAILURES = "modelcache.cache.eviction.failures";

  private final Counter evictions;
  private final Counter evictedBytes;
  private final Counter failures;
  private final AtomicLong maxBytes = new AtomicLong();

  public CacheMeters(MeterRegistry registry, long maxBytes) {
    this.maxBytes.set(maxBytes);
    Gauge.builder(MAX_BYTES, this.maxBytes, AtomicLong::get)
        .baseUnit("bytes")
        .description("cache.max_bytes: the most bytes the models may hold; 0 for no limit")
        .register(registry);
    this.evictions =
        Counter.builder(EVICTIONS)
            .description("Unneeded snapshots evicted to keep the cache within cache.max_bytes")
            .register(registry);
    this.evictedBytes =
        Counter.builder(EVICTED_BYTES)
            .baseUnit("bytes")
            .description("Bytes freed by evicting unneeded snapshots (cache.max_bytes)")
            .register(registry);
    this.failures =
        Counter.builder(EVICTION_FAILURES)
            .description("Fetches refused: cache.max_bytes left no room even after eviction")
            .register(registry);
  }

  /** Counts one evicted snapshot and the bytes it freed. */
  public void evicted(long bytes) {
    evictions.increment();
    evictedBytes.increment((double) bytes);
  }

  /** Counts one fetch refused for the size limit. */
  public void refused() {
    failures.increment();
  }
}
