package dev.modelcache.inference;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.ModelVersions;
import dev.modelcache.inference.ModelEntry.Prepared;
import dev.modelcache.store.InstalledSnapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A switch of a model that keeps revisions side by side ({@code versions:}, {@code canary:}): each
 * revision wanted (the primary, the canary) is taken from a loaded one when it already is (a
 * promoted canary, a rollback to a previous revision: no reload), else loaded beside them; the
 * primary replaced stays loaded as a previous revision while {@code versions} allows; what is left
 * over is drained and closed.
 */
final class VersionedSwap {
  // the registry's category, as the operator knows it
  private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);

  private final ModelLoader loader;
  private final ModelSwap swap;

  VersionedSwap(ModelLoader loader, ModelSwap swap) {
    this.loader = loader;
    this.swap = swap;
  }

  /**
   * Brings {@code model} in at {@code snapshot}, with its canary at {@code canarySnapshot}, and
   * publishes the new entry; on failure nothing changed.
   */
  void apply(
      ModelEntry old,
      ModelConfig model,
      InstalledSnapshot snapshot,
      @Nullable InstalledSnapshot canarySnapshot,
      Duration drain,
      Consumer<ModelEntry> publish)
      throws ModelLoadException {
    List<ModelEntry> pool = old.revisions.all(old);
    LoadedModel<?, ?> oldLoaded = old.loaded;
    Prepared oldPrepared = old.prepared;
    ModelEntry next = new ModelEntry(model);
    ModelEntry from = find(pool, model, snapshot, null);
    boolean fresh = from == null;
    if (from != null) {
      next.prepared = from.prepared;
      next.loaded = from.loaded;
    } else {
      swap.bringIn(old, next, snapshot);
    }
    ModelEntry canary = null;
    ModelVersions.Canary wanted = model.versions().canary();
    if (wanted != null && canarySnapshot != null) {
      try {
        canary = canary(pool, ModelVersions.canaryOf(model), canarySnapshot, next);
      } catch (ModelLoadException | RuntimeException e) {
        if (fresh && next.loaded != null) {
          next.loaded.close();
        }
        throw e;
      }
    }
    List<ModelEntry> previous = new ArrayList<>();
    if (oldPrepared != null && oldLoaded != null && oldLoaded != next.loaded) {
      ModelEntry demoted = new ModelEntry(old.config);
      demoted.prepared = oldPrepared;
      demoted.loaded = oldLoaded;
      previous.add(demoted);
    }
    previous.addAll(old.revisions.previous());
    previous = keep(previous, next, canary, model.versions().keep() - 1);
    next.revisions = new Revisions(previous, canary, wanted == null ? 0 : wanted.weight());
    publish.accept(next);
    // requests that still hold the old entry go to the new primary
    old.prepared = next.prepared;
    old.loaded = next.loaded;
    log.info(
        "{} - now serves revision {}{}{}{}",
        model.name(),
        next.revisionId(),
        fresh || next.loaded == oldLoaded ? "" : " (already loaded: no reload)",
        canary == null
            ? ""
            : ", canary " + canary.revisionId() + " at " + next.revisions.weight() + " %",
        previous.isEmpty()
            ? ""
            : ", previous "
                + String.join(", ", previous.stream().map(ModelEntry::revisionId).toList()));
    closeLeftOver(model.name(), pool, oldLoaded, next, drain);
  }

  private ModelEntry canary(
      List<ModelEntry> pool, ModelConfig config, InstalledSnapshot snapshot, ModelEntry primary)
      throws ModelLoadException {
    ModelEntry canary = new ModelEntry(config);
    ModelEntry from = find(pool, config, snapshot, primary.loaded);
    if (from != null && from.loaded != null) {
      canary.prepared = from.prepared;
      canary.loaded = from.loaded;
      return canary;
    }
    Prepared prepared = loader.prepare(config, snapshot);
    canary.prepared = prepared;
    canary.loaded = loader.loadDetached(config, prepared); // a canary is loaded, lazy or not
    return canary;
  }

  /**
   * A loaded entry of {@code pool} at {@code snapshot} with the same settings as {@code model}
   * (other than the versions kept), other than the one holding {@code taken}; null when none.
   */
  private static @Nullable ModelEntry find(
      List<ModelEntry> pool,
      ModelConfig model,
      InstalledSnapshot snapshot,
      @Nullable LoadedModel<?, ?> taken) {
    for (ModelEntry entry : pool) {
      Prepared prepared = entry.prepared;
      if (prepared != null
          && prepared.snapshot().id().equals(snapshot.id())
          && sameSettings(entry.config, model)
          && (entry.loaded != null || model.lazy())
          && (taken == null || entry.loaded != taken)) {
        return entry;
      }
    }
    return null;
  }

  /** Equal but for the source's revision, the pins and the versions: what loading depends on. */
  static boolean sameSettings(ModelConfig a, ModelConfig b) {
    return b.with(a.source(), a.sha256()).equals(a.with(b.versions()));
  }

  /**
   * The previous revisions to keep, newest first: loaded, neither the primary's nor the canary's
   * model, one per revision, at most {@code max}.
   */
  private static List<ModelEntry> keep(
      List<ModelEntry> candidates, ModelEntry primary, @Nullable ModelEntry canary, int max) {
    List<ModelEntry> kept = new ArrayList<>();
    Set<String> seen = new java.util.HashSet<>();
    seen.add(primary.revisionId());
    for (ModelEntry entry : candidates) {
      LoadedModel<?, ?> loaded = entry.loaded;
      if (kept.size() >= max
          || loaded == null
          || loaded == primary.loaded
          || (canary != null && loaded == canary.loaded)
          || !seen.add(entry.revisionId())) {
        continue;
      }
      kept.add(entry);
    }
    return kept;
  }

  /** Drains and closes the models of {@code pool} that the new entry no longer holds. */
  private void closeLeftOver(
      String name,
      List<ModelEntry> pool,
      @Nullable LoadedModel<?, ?> oldLoaded,
      ModelEntry next,
      Duration drain) {
    Set<LoadedModel<?, ?>> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    for (ModelEntry entry : next.revisions.all(next)) {
      if (entry.loaded != null) {
        kept.add(entry.loaded);
      }
    }
    Set<LoadedModel<?, ?>> closed = Collections.newSetFromMap(new IdentityHashMap<>());
    List<LoadedModel<?, ?>> candidates = new ArrayList<>();
    candidates.add(oldLoaded);
    for (ModelEntry entry : pool) {
      candidates.add(entry.loaded);
    }
    for (LoadedModel<?, ?> model : candidates) {
      if (model != null && !kept.contains(model) && closed.add(model)) {
        for (ModelEntry entry : pool) {
          if (entry != pool.get(0) && entry.loaded == model) {
            entry.retired = true; // a request that picked it goes no further
          }
        }
        ModelSwap.close(name, model, ModelSwap.atLeastTimeout(drain, next));
      }
    }
    Objects.requireNonNull(next.prepared, "published prepared");
  }
}
