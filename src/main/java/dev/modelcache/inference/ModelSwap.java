package dev.modelcache.inference;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelEntry.Prepared;
import dev.modelcache.store.InstalledSnapshot;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replaces or removes a served model without a failed request: the new version is loaded and warmed
 * up beside the old one, requests switch to it with one write (each request picks its {@link
 * LoadedModel} once, see {@link ModelEntry#acquire}), and the old one is closed only when its last
 * request is done, or after the drain timeout (logged).
 */
final class ModelSwap {
  // the registry's category, as the operator knows it
  private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);

  private final ModelLoader loader;
  private final ModelStates states;

  ModelSwap(ModelLoader loader, ModelStates states) {
    this.loader = loader;
    this.states = states;
  }

  /**
   * Serves {@code model} from {@code snapshot} in place of {@code old} (a model of one version):
   * nothing to do for the same bytes and settings, else {@link #bringIn}, {@code publish} the new
   * entry, {@link #drainOld}.
   */
  void replace(
      ModelEntry old,
      ModelConfig model,
      InstalledSnapshot snapshot,
      Duration drain,
      Consumer<ModelEntry> publish)
      throws ModelLoadException {
    Prepared served = old.prepared;
    if (old.config.equals(model)
        && served != null
        && served.snapshot().id().equals(snapshot.id())
        && (old.loaded != null || model.lazy())) {
      return; // the same bytes and settings (a lockfile entry recorded): nothing to do
    }
    ModelEntry next = new ModelEntry(model);
    bringIn(old, next, snapshot);
    publish.accept(next);
    drainOld(old, next, drain);
  }

  /**
   * Prepares {@code next} from {@code snapshot} and loads it, warm-up included, unless it is {@code
   * load: lazy} and the old version was not loaded either; nothing is served from it yet.
   */
  void bringIn(ModelEntry old, ModelEntry next, InstalledSnapshot snapshot)
      throws ModelLoadException {
    Prepared prepared = loader.prepare(next.config, snapshot);
    next.prepared = prepared;
    if (!next.config.lazy() || old.loaded != null) {
      next.loaded = loader.loadDetached(next.config, prepared);
    }
  }

  /**
   * Points the requests still holding {@code old} at {@code next}'s model, marks the model READY,
   * then waits (at most {@code drain}) for the requests on the old model and closes it.
   */
  void drainOld(ModelEntry old, ModelEntry next, Duration drain) {
    LoadedModel<?, ?> previous = old.loaded;
    old.prepared = next.prepared;
    old.loaded = next.loaded;
    if (states.state(next.name()) != ModelState.READY) {
      states.ready(next.name());
    }
    log.info(
        "{} - now serves revision {}{}",
        next.name(),
        Objects.requireNonNull(next.prepared, "a model swapped in is prepared").snapshot().id(),
        previous == null ? "" : " (was " + previous.snapshot().id() + "): draining the old one");
    close(next.name(), previous, atLeastTimeout(drain, old));
  }

  /** Stops serving {@code entry} (removed from the config): drains and closes its model. */
  void retire(ModelEntry entry, Duration drain) {
    entry.retired = true;
    close(entry.name(), entry.loaded, atLeastTimeout(drain, entry));
  }

  /**
   * The drain, at least the model's {@code timeout_ms}: by then every request on it has had its
   * answer, a 504 at worst, so none is cut by the close.
   */
  static Duration atLeastTimeout(Duration drain, ModelEntry entry) {
    Duration timeout = Duration.ofMillis(entry.config.timeoutMs()).plusMillis(100);
    return drain.compareTo(timeout) >= 0 ? drain : timeout;
  }

  static void close(String name, @Nullable LoadedModel<?, ?> model, Duration drain) {
    if (model == null) {
      return;
    }
    boolean drained = false;
    try {
      drained = model.awaitIdle(drain);
      if (!drained) {
        log.warn(
            "{} - {} request(s) still use revision {} {} ms after it was replaced; closing it",
            name,
            model.inFlight(),
            model.snapshot().id(),
            drain.toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    model.close();
    if (drained) {
      log.info("{} - revision {} drained and unloaded", name, model.snapshot().id());
    }
  }
}
