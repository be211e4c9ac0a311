package dev.modelcache.inference;

import dev.modelcache.inference.ModelEntry.Prepared;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What the {@link ModelRegistry}'s models are now, read without a lock: the revisions each serves
 * and has loaded, the facts {@code /models} reports, the snapshot folders a cache limit must keep.
 */
final class ModelFacts {
  private final Supplier<Map<String, ModelEntry>> entries;

  /**
   * @param entries the registry's entries by name, read anew on each query (a reload replaces them)
   */
  ModelFacts(Supplier<Map<String, ModelEntry>> entries) {
    this.entries = entries;
  }

  /** The revisions {@code model} has loaded, each with its role; empty before its files are. */
  List<LoadedRevision> revisions(String model) {
    ModelEntry entry = entries.get().get(model);
    return entry == null ? List.of() : entry.revisions.loaded(entry);
  }

  /** The revision {@code model} serves, or empty before its files are ready. */
  Optional<String> revision(String model) {
    ModelEntry entry = entries.get().get(model);
    Prepared prepared = entry == null ? null : entry.prepared;
    return Optional.ofNullable(prepared == null ? null : prepared.snapshot().id());
  }

  /**
   * The snapshot folders of the versions prepared or loaded now: a cache limit never evicts them.
   */
  Set<Path> snapshotsInUse() {
    Set<Path> dirs = new HashSet<>();
    for (ModelEntry primary : entries.get().values()) {
      for (ModelEntry entry : primary.revisions.all(primary)) { // canary and previous ones too
        Prepared prepared = entry.prepared;
        LoadedModel<?, ?> loaded = entry.loaded;
        if (prepared != null) {
          dirs.add(prepared.snapshot().dir());
        }
        if (loaded != null) {
          dirs.add(loaded.snapshot().dir());
        }
      }
    }
    return dirs;
  }

  /** Whether {@code model}'s task takes a raw body of {@code contentType}; false before load. */
  boolean takesRaw(String model, String contentType) {
    ModelEntry entry = entries.get().get(model);
    Prepared prepared = entry == null ? null : entry.prepared;
    return prepared != null
        && prepared.task() instanceof RawBodyTask<?> raw
        && raw.acceptsRaw(contentType);
  }

  /** Facts about a model whose files are ready for {@code /models}, or empty before. */
  Optional<LoadedInfo> info(String model) {
    ModelEntry entry = entries.get().get(model);
    Prepared prepared = entry == null ? null : entry.prepared;
    if (prepared == null) {
      return Optional.empty();
    }
    LoadedModel<?, ?> m = Objects.requireNonNull(entry, "prepared, so present").loaded;
    return Optional.of(
        new LoadedInfo(
            prepared.snapshot(),
            m != null,
            m == null ? null : m.modelFile(),
            entry.engine(prepared),
            m == null ? null : ModelLoader.device(m),
            m == null ? null : m.loadTime(),
            m == null ? null : m.warmupTime(),
            prepared.metadata().labels(),
            m == null ? entry.config.batchMaxSize() : m.batchMaxSize(),
            m == null ? null : m.unbatched(),
            m == null ? null : m.memory()));
  }
}
