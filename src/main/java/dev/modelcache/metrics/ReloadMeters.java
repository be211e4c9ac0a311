package dev.modelcache.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * {@code modelcache_config_reload_total{outcome}}: config reloads (SIGHUP, or a change of the file)
 * that were put in force ({@code success}) or refused ({@code failure}), both registered at zero.
 */
public final class ReloadMeters {
  private final Counter success;
  private final Counter failure;

  ReloadMeters(MeterRegistry registry) {
    this.success = counter(registry, "success");
    this.failure = counter(registry, "failure");
  }

  private static Counter counter(MeterRegistry registry, String outcome) {
    return Counter.builder(Metrics.CONFIG_RELOAD)
        .tags("outcome", outcome)
        .description("Config reloads (SIGHUP or a change of the file) by outcome")
        .register(registry);
  }

  /** Counts one reload that was put in force ({@code true}) or refused. */
  public void reloaded(boolean success) {
    (success ? this.success : failure).increment();
  }
}
