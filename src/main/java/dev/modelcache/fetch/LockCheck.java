package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place a model is compared with its entry of {@code modelcache.lock}: whether the entry
 * applies, the pins it gives, upstream against it ({@code --frozen}) and the cache against it.
 */
public final class LockCheck {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private LockCheck() {}

  /** A model with the pins a lock entry gives, and which of them came from the lockfile. */
  record Pinned(ModelConfig model, Set<String> fromLock) {}

  /**
   * Whether a lock entry of {@code model} pins each file only while it is the same object upstream
   * (the S3 or Azure ETag and version, the URL), which is known once the model is listed.
   */
  static boolean perObject(ModelConfig model) {
    SourceRef.Scheme scheme = model.source().scheme();
    return scheme == SourceRef.Scheme.S3
        || scheme == SourceRef.Scheme.GCS
        || scheme == SourceRef.Scheme.URL
        || scheme == SourceRef.Scheme.AZURE;
  }

  /**
   * Whether {@code locked} holds {@code model} at its locked revision: an entry for its source as
   * configured now that pins whole files (a Hub or local model; an S3 or url entry pins each object
   * only while it is unchanged upstream, so it follows a move).
   */
  public static boolean holds(ModelConfig model, Optional<Lockfile.Locked> locked) {
    return !perObject(model) && applying(model, locked).isPresent();
  }

  /** {@code locked} when it was written for the model's source as configured now. */
  static Optional<Lockfile.Locked> applying(ModelConfig model, Optional<Lockfile.Locked> locked) {
    return locked.filter(l -> l.source().equals(model.source().text()));
  }

  /**
   * The lock entry a fetch of {@code model} is held to: warns (or, {@code frozen}, fails) when it
   * names another source; {@code frozen} fails without one.
   */
  static Optional<Lockfile.Locked> entry(
      ModelConfig model, Optional<Lockfile.Locked> locked, boolean frozen) throws SourceException {
    Optional<Lockfile.Locked> lock = applying(model, locked);
    if (locked.isPresent() && lock.isEmpty()) {
      if (frozen) {
        throw new SourceException(
            model.name()
                + " - the source changed since modelcache.lock was written"
                + " (locked: "
                + locked.get().source()
                + ", config: "
                + model.source()
                + "); run 'modelcache lock'");
      }
      log.warn(
          "{} - modelcache.lock names source {} but the config says {}: the lock entry is ignored; run"
              + " 'modelcache lock' to update it",
          model.name(),
          locked.get().source(),
          model.source());
    }
    if (frozen && lock.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - not in modelcache.lock; run 'modelcache lock' first (--frozen"
              + " fetches exactly what the lockfile names)");
    }
    return lock;
  }

  /**
   * The locked digests as pins (the config's own win), and for a frozen Hub model the locked
   * revision.
   */
  static Pinned lockPins(ModelConfig model, Lockfile.Locked lock, boolean frozen) {
    Set<String> fromLock = new HashSet<>();
    Map<String, String> pins = new TreeMap<>();
    for (Lockfile.LockedFile file : lock.files()) {
      pins.put(file.path(), file.sha256());
      fromLock.add(file.path());
    }
    pins.putAll(model.sha256()); // the config's own pins win
    fromLock.removeAll(model.sha256().keySet());
    SourceRef source = model.source();
    if (frozen && source.scheme() == SourceRef.Scheme.HF) {
      source =
          new SourceRef(
              source.scheme(),
              source.location(),
              lock.revision(),
              source.repoType(),
              source.text());
    }
    return new Pinned(model.with(source, pins), fromLock);
  }

  /**
   * The pins that an S3 lock entry gives: the locked SHA-256 of every object whose size, ETag and
   * version are still the locked ones. An object replaced upstream is fetched again (and its new
   * digest goes into the lockfile); under {@code --frozen} it already failed.
   */
  static Pinned objectPins(
      ModelConfig model, Map<String, SourceFile> upstream, Lockfile.Locked lock) {
    Map<String, String> pins = new TreeMap<>();
    Set<String> fromLock = new HashSet<>();
    for (SourceFile file : upstream.values()) {
      Optional<Lockfile.LockedFile> locked = lock.file(file.path());
      if (locked.isEmpty()) {
        continue;
      }
      if (sameObject(locked.get(), file, url(model, file.path()))) {
        pins.put(file.path(), locked.get().sha256());
        fromLock.add(file.path());
      } else {
        String url = url(model, file.path());
        log.info(
            "{} - {} changed upstream since modelcache.lock ({} {} -> {}, {} -> {} bytes): fetching"
                + " it again",
            model.name(),
            file.path(),
            url != null ? "URL" : "ETag",
            url != null ? locked.get().url() : locked.get().etag(),
            url != null ? url : file.objectEtag(),
            locked.get().size(),
            file.size());
      }
    }
    pins.putAll(model.sha256()); // the config's own pins win
    fromLock.removeAll(model.sha256().keySet());
    return new Pinned(model.with(model.source(), pins), fromLock);
  }

  /** The URL of a url model's file as the lockfile records it, else null. */
  private static @Nullable String url(ModelConfig model, String path) {
    return model.source().url(path).map(SourceRef.UrlFile::shown).orElse(null);
  }

  private static boolean sameObject(
      Lockfile.LockedFile locked, SourceFile file, @Nullable String url) {
    return locked.size() == file.size()
        && (locked.etag() == null || locked.etag().equals(file.objectEtag()))
        && (locked.url() == null || locked.url().equals(url))
        && (locked.versionId() == null || locked.versionId().equals(file.versionId()));
  }

  /** With --frozen: upstream must list exactly the locked files, with the locked sizes. */
  static void compareUpstream(
      ModelConfig model, Map<String, SourceFile> upstream, Lockfile.Locked lock)
      throws SourceException {
    List<String> differences = new ArrayList<>();
    for (Lockfile.LockedFile locked : lock.files()) {
      SourceFile file = upstream.get(locked.path());
      if (file == null) {
        differences.add(locked.path() + ": in modelcache.lock, no longer upstream");
      } else if (file.size() != locked.size()) {
        differences.add(
            locked.path()
                + ": "
                + locked.size()
                + " bytes in modelcache.lock, "
                + file.size()
                + " upstream");
      } else if (locked.url() != null && !locked.url().equals(url(model, locked.path()))) {
        differences.add(
            locked.path()
                + ": URL "
                + locked.url()
                + " in modelcache.lock, "
                + url(model, locked.path())
                + " in the config");
      } else if (locked.etag() != null && !locked.etag().equals(file.objectEtag())) {
        differences.add(
            locked.path()
                + ": ETag "
                + locked.etag()
                + " in modelcache.lock, "
                + file.objectEtag()
                + " upstream");
      } else if (locked.versionId() != null && !locked.versionId().equals(file.versionId())) {
        differences.add(
            locked.path()
                + ": version "
                + locked.versionId()
                + " in modelcache.lock, "
                + file.versionId()
                + " upstream");
      }
    }
    for (String path : upstream.keySet()) {
      if (lock.file(path).isEmpty()) {
        differences.add(path + ": upstream, not in modelcache.lock");
      }
    }
    if (!differences.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - upstream no longer matches modelcache.lock (--frozen): "
              + String.join("; ", differences)
              + "; run 'modelcache lock' to accept the new state");
    }
  }

  /**
   * Why the cache's {@code snapshot} of {@code model} is not what its lock entry names (when one
   * applies), or empty: {@code "<model> - the cache does not match modelcache.lock: ..."}.
   */
  public static Optional<String> cacheMismatch(
      ModelConfig model, InstalledSnapshot snapshot, Optional<Lockfile.Locked> locked) {
    Optional<Lockfile.Locked> lock = applying(model, locked);
    if (lock.isEmpty()) {
      return Optional.empty();
    }
    List<String> differences = lock.get().differences(snapshot);
    if (differences.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        model.name()
            + " - the cache does not match modelcache.lock: "
            + String.join("; ", differences));
  }

  /** What is served must be what the lockfile names. */
  static void requireMatch(ModelConfig model, InstalledSnapshot snapshot, Lockfile.Locked lock)
      throws SourceException {
    Optional<String> mismatch = cacheMismatch(model, snapshot, Optional.of(lock));
    if (mismatch.isPresent()) {
      throw new SourceException(
          mismatch.get() + "; run 'modelcache fetch' (or 'modelcache lock' to accept it)");
    }
  }
}
