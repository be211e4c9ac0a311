package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.RetryableSourceException;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceException;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import dev.modelcache.store.StoreException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The revision in the cache that stands in for a model's source while the source cannot be reached,
 * as {@code huggingface_hub} falls back to its cache, and whether it may; offline, the revision
 * installed.
 */
final class CacheFallback {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private final CacheStore store;
  private final ModelStates states;
  private final DigestPolicy digests;

  CacheFallback(CacheStore store, ModelStates states, DigestPolicy digests) {
    this.store = store;
    this.states = states;
    this.digests = digests;
  }

  /**
   * Offline (config, {@code MODELCACHE_OFFLINE} or {@code HF_HUB_OFFLINE}), a model not from a
   * folder is what the cache holds of it, or fails.
   */
  InstalledSnapshot offline(ModelConfig given) throws IOException {
    return store
        .installed(given)
        .orElseThrow(
            () ->
                new SourceException(
                    given.name()
                        + " - offline"
                        + " (cache.offline, MODELCACHE_OFFLINE or HF_HUB_OFFLINE) and not in the cache at "
                        + store.repoDir(given)
                        + "; run 'modelcache fetch' where "
                        + given.source()
                        + " is reachable, or turn offline mode off"));
  }

  /**
   * What the cache holds of {@code model} that may stand in for its source while the source cannot
   * be reached, as {@code huggingface_hub} falls back to its cache: the revision that {@code
   * modelcache.lock} names when the model is locked (or one holding exactly the locked files), else
   * the commit itself when the revision is one, else the one its ref ({@code refs/{revision}},
   * {@code refs/main}) points to; and only when modelcache installed that very revision, every blob
   * is in place with its size, and the pins (config and lockfile) agree with every recorded digest.
   *
   * @param snapshot the revision to serve, or null when the cache holds none for this revision
   * @param refusal why a cached revision may not be served, or null
   */
  record Cached(@Nullable InstalledSnapshot snapshot, @Nullable String refusal) {
    boolean servable() {
      return snapshot != null && refusal == null;
    }
  }

  Cached cached(ModelConfig model, @Nullable String ref, Lockfile.@Nullable Locked locked) {
    if (model.source().scheme() == SourceRef.Scheme.FILE) {
      return new Cached(null, null);
    }
    try {
      Optional<InstalledSnapshot> record = store.installed(model);
      if (record.isEmpty() || !wanted(model, ref, locked, record.get())) {
        return new Cached(null, null);
      }
      InstalledSnapshot installed = record.get();
      List<String> problems = problems(model, locked, installed);
      return new Cached(installed, problems.isEmpty() ? null : String.join("; ", problems));
    } catch (IOException e) {
      return new Cached(null, null); // an unreadable record or ref vouches for nothing
    }
  }

  /** Whether {@code installed} is the revision that {@code locked}, or else the ref, names. */
  private boolean wanted(
      ModelConfig model,
      @Nullable String ref,
      Lockfile.@Nullable Locked locked,
      InstalledSnapshot installed)
      throws IOException {
    if (locked != null && locked.revision() != null) {
      // the locked revision, or one that holds exactly the locked files (a later commit of the
      // branch that changed nothing the model includes)
      return installed.id().equals(locked.revision())
          || (locked.differences(installed).isEmpty()
              && installed.files().stream()
                  .map(InstalledSnapshot.InstalledFile::path)
                  .collect(java.util.stream.Collectors.toSet())
                  .equals(
                      locked.files().stream()
                          .map(Lockfile.LockedFile::path)
                          .collect(java.util.stream.Collectors.toSet())));
    } else if (ref == null) {
      String digest = model.source().ociDigest(); // the snapshot of an OCI manifest is its digest
      return installed.id().equals(digest != null ? digest : model.source().revision());
    }
    java.nio.file.Path refFile = store.repoDir(model).resolve("refs").resolve(ref);
    return java.nio.file.Files.isRegularFile(refFile)
        && installed.id().equals(java.nio.file.Files.readString(refFile).strip());
  }

  /** Why {@code installed} may not be served: files missing, pins or the lockfile disagreeing. */
  private List<String> problems(
      ModelConfig model, Lockfile.@Nullable Locked locked, InstalledSnapshot installed)
      throws IOException {
    List<String> problems = new ArrayList<>();
    for (InstalledSnapshot.InstalledFile file : installed.files()) {
      if (!java.nio.file.Files.isRegularFile(file.blob())
          || java.nio.file.Files.size(file.blob()) != file.size()
          || !java.nio.file.Files.isRegularFile(installed.dir().resolve(file.path()))) {
        problems.add(file.path() + " is missing or incomplete in the cache");
      }
    }
    for (Map.Entry<String, String> pin : model.sha256().entrySet()) {
      Optional<InstalledSnapshot.InstalledFile> file =
          installed.files().stream().filter(f -> f.path().equals(pin.getKey())).findFirst();
      if (file.isEmpty()) {
        problems.add(
            pin.getKey() + " is " + digests.pinnedBy(model, pin.getKey()) + " but not cached");
      } else if (!file.get().sha256().equals(pin.getValue())) {
        problems.add(
            pin.getKey()
                + ": sha256 "
                + file.get().sha256()
                + " in the cache, "
                + pin.getValue()
                + " "
                + digests.pinnedBy(model, pin.getKey()));
      }
    }
    if (locked != null) {
      problems.addAll(locked.differences(installed));
    }
    return problems;
  }

  /**
   * Whether a download failed because the source stayed unreachable (5xx, 429 or a cut connection
   * on every attempt, without progress), rather than because it refused or sent wrong bytes.
   */
  static boolean outage(SourceException e) {
    Throwable cause = e.getCause();
    return cause instanceof RetryableSourceException
        || (cause instanceof IOException
            && !(cause instanceof SourceException)
            && !(cause instanceof StoreException));
  }

  /**
   * The cached revision of {@code model} while its source is unreachable: WARN, flagged in {@link
   * ModelStates#stale}; else the outage's own error, or why the cached revision is refused.
   */
  InstalledSnapshot serve(
      ModelConfig model, Cached cached, String sourceLabel, SourceException outage)
      throws SourceException {
    if (cached.snapshot() == null) {
      throw outage;
    }
    if (cached.refusal() != null) {
      throw new SourceException(
          outage.getMessage()
              + "; the cached revision "
              + cached.snapshot().id()
              + " is not served instead: "
              + cached.refusal(),
          outage);
    }
    InstalledSnapshot snapshot = cached.snapshot();
    states.sourceUnreachable(model.name(), snapshot.id(), outage.getMessage());
    log.warn(
        "{} - source unreachable: serving revision {} from the cache ({} files, fetched and"
            + " verified before); the next fetch or restart that reaches {} catches up. Cause: {}",
        model.name(),
        snapshot.id(),
        snapshot.files().size(),
        sourceLabel.equals("hf") ? "the Hub" : model.source().toString(),
        outage.getMessage());
    return snapshot;
  }

  /**
   * Asks the source of a model served from the cache (see {@link ModelStates#stale}) whether it
   * answers again: one listing, no bytes, no state change but the flag. When it answers, the flag
   * is cleared (the served revision is then as current as any running model's: a branch that moved
   * meanwhile is fetched by the next {@code fetch} or restart, as ever); when it still fails, the
   * flag keeps its time and takes the new reason.
   *
   * @return true when the source answered
   */
  boolean recheck(ModelConfig model, ModelSource source) {
    Optional<ModelStates.Stale> stale = states.stale(model.name());
    if (stale.isEmpty()) {
      return false;
    }
    Snapshot snapshot;
    try {
      snapshot = source.resolve(model);
    } catch (IOException e) {
      states.sourceUnreachable(model.name(), stale.get().revision(), e.getMessage());
      log.debug("{} - source still unreachable: {}", model.name(), e.getMessage());
      return false;
    }
    states.sourceReachable(model.name());
    if (snapshot.revision() != null && !snapshot.revision().equals(stale.get().revision())) {
      log.info(
          "{} - {} answers again and now holds revision {}; revision {} stays served until the next"
              + " 'modelcache fetch' or restart",
          model.name(),
          model.source(),
          snapshot.revision(),
          stale.get().revision());
    } else {
      log.info(
          "{} - {} answers again; revision {} is served",
          model.name(),
          model.source(),
          stale.get().revision());
    }
    return true;
  }
}
