package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import dev.modelcache.store.Verifier.Kind;
import dev.modelcache.store.Verifier.Problem;
import java.io.IOException;
import java.time.Clock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The problems a {@link Verifier} reports, one line each starting with the model's name; the
 * failures among them (a corrupted file, an unsafe link) are also logged at WARN and counted, and a
 * corrupted blob is moved to quarantine where the cache allows it.
 */
final class VerifyFindings {
  /** Verifier's: the verification logs under one name, whichever of its classes finds what. */
  private static final Logger log = LoggerFactory.getLogger(Verifier.class);

  private final CacheStore store;
  private final Metrics metrics;
  private final Clock clock;

  VerifyFindings(CacheStore store, Metrics metrics, Clock clock) {
    this.store = store;
    this.metrics = metrics;
    this.clock = clock;
  }

  /** Moves the blob of {@code file} to quarantine; says what became of it. */
  String quarantine(ModelConfig model, InstalledFile file) {
    if (!store.writable()) {
      return "left in place: the cache is read-only";
    }
    try {
      return "moved to " + store.quarantine(model, file.blob(), clock.instant());
    } catch (IOException e) {
      return "could not be moved to quarantine: " + e.getMessage();
    }
  }

  Problem corrupt(ModelConfig model, InstalledFile file, String actual, String outcome) {
    metrics.verifyFailures(model.name()).increment();
    String message =
        model.name()
            + " - "
            + file.path()
            + ": sha256 mismatch: expected "
            + file.sha256()
            + " (recorded at install), actual "
            + actual
            + "; the file was changed on the volume; blob "
            + file.blob()
            + " "
            + outcome;
    log.warn("{}", message);
    return new Problem(Kind.CORRUPT, file.path(), message);
  }

  /**
   * A symlink that leaves the cache or leads to other bytes: a verification failure, logged at WARN
   * and counted like a corrupted file.
   */
  Problem unsafeLink(ModelConfig model, @Nullable String path, StoreException e) {
    return unsafeLink(model, path, e.getMessage());
  }

  Problem unsafeLink(ModelConfig model, @Nullable String path, @Nullable String what) {
    metrics.verifyFailures(model.name()).increment();
    String message = model.name() + " - " + what;
    log.warn("{}", message);
    return new Problem(Kind.LINK, path, message);
  }

  static Problem unreadable(ModelConfig model, @Nullable String path, String what) {
    return new Problem(Kind.UNREADABLE, path, model.name() + " - " + what);
  }

  static Problem fetchAdvice(Problem problem) {
    return new Problem(
        problem.kind(), problem.path(), problem.message() + "; run 'modelcache fetch'");
  }

  static Problem notInstalled(CacheStore store, ModelConfig model) {
    return new Problem(
        Kind.NOT_INSTALLED, null, model.name() + " - not in the cache at " + store.repoDir(model));
  }

  static Problem missingBlob(ModelConfig model, InstalledFile file) {
    return new Problem(
        Kind.MISSING,
        file.path(),
        model.name() + " - " + file.path() + ": blob " + file.blob() + " is missing");
  }

  static Problem pinMismatch(ModelConfig model, String path, String pin, String actual) {
    return new Problem(
        Kind.PIN,
        path,
        model.name()
            + " - "
            + path
            + ": sha256 mismatch: expected "
            + pin
            + " (pinned in the config), actual "
            + actual
            + "; run 'modelcache fetch' after checking the pin");
  }

  static Problem pinNotInstalled(ModelConfig model, String pinned, InstalledSnapshot snapshot) {
    return new Problem(
        Kind.PIN,
        pinned,
        model.name()
            + " - "
            + pinned
            + ": pinned in the config but not in snapshot "
            + snapshot.id()
            + "; run 'modelcache fetch'");
  }
}
