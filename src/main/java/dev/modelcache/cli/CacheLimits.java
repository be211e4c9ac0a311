package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.metrics.CacheMeters;
import dev.modelcache.store.CacheLimit;
import dev.modelcache.store.CacheStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The {@link CacheLimit} ({@code cache.max_bytes}) of a command or of the daemon: what it must keep
 * and where its meters go.
 */
final class CacheLimits {
  /** How often the daemon records that the snapshots it has loaded are in use. */
  static final long RECORD_IN_USE_MINUTES = 10;

  private CacheLimits() {}

  /**
   * For a one-shot command ('fetch', 'lock', 'mirror', 'gc'): it keeps the config's models and what
   * {@code modelcache.lock} names (read when a plan is made); it has nothing loaded.
   */
  static CacheLimit forCommand(Config config, CacheStore store, Clock clock) {
    return new CacheLimit(
        store,
        config.cache().maxBytes(),
        () -> new CacheLimit.Keep(config.models(), ConfigOption.lockfile(config), Set.of()),
        new CacheMeters(new SimpleMeterRegistry(), config.cache().maxBytes()),
        clock);
  }

  /**
   * For {@code serve}: {@code keep} gives the models and lockfile in force (a reload changes them)
   * and the snapshots loaded; the meters go to {@code registry}; every {@value
   * #RECORD_IN_USE_MINUTES} minutes {@code scheduler} records the loaded snapshots' use.
   */
  static CacheLimit forDaemon(
      Config config,
      CacheStore store,
      Supplier<CacheLimit.Keep> keep,
      MeterRegistry registry,
      ScheduledExecutorService scheduler,
      Clock clock) {
    CacheLimit limit =
        new CacheLimit(
            store,
            config.cache().maxBytes(),
            keep,
            new CacheMeters(registry, config.cache().maxBytes()),
            clock);
    if (limit.maxBytes() > 0) {
      var unused =
          scheduler.scheduleAtFixedRate(
              limit::usedInUse, 0, RECORD_IN_USE_MINUTES, TimeUnit.MINUTES);
    }
    return limit;
  }
}
