package dev.modelcache.cli;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.ModelStates;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** The daemon's periodic re-check of the sources of models served from the cache. */
final class StaleRecheck {
  private static final Logger log = LoggerFactory.getLogger(Daemon.class);

  private StaleRecheck() {}

  /**
   * Asks the source of each model served from the cache (its source was unreachable) whether it
   * answers again; see {@link Fetcher#recheck}. Stops once {@code closed} is set.
   */
  static void run(
      List<ModelConfig> models, ModelStates states, Fetcher fetcher, AtomicBoolean closed) {
    for (ModelConfig model : models) {
      if (closed.get()) {
        return;
      }
      if (states.stale(model.name()).isEmpty()) {
        continue;
      }
      MDC.put("model", model.name());
      try {
        fetcher.recheck(model);
      } catch (RuntimeException e) {
        log.warn("{} - re-check of its source failed", model.name(), e);
      } finally {
        MDC.remove("model");
      }
    }
  }
}
