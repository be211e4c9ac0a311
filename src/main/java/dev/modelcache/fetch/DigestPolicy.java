package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.StagedFile;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which SHA-256 each file must have and who vouches for it (a pin of the config, one of {@code
 * modelcache.lock}, the source's own digest), and the one place a file that does not match is
 * counted ({@link Metrics#VERIFY_FAILURES}) and refused.
 */
final class DigestPolicy {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private static final String TRANSIT_ADVICE =
      "The bytes were damaged in transit or by the server; fetch again, and if it persists report it upstream";
  private static final String MOVED_ADVICE =
      "The source now holds other bytes than the pin (a moved branch?), so nothing was downloaded: pin the"
          + " revision to a commit, or update the pin if the new bytes are intended";

  private final Metrics metrics;

  /** Per model being fetched, the paths whose pin came from {@code modelcache.lock}. */
  private final Map<String, Set<String>> lockPinned = new ConcurrentHashMap<>();

  DigestPolicy(Metrics metrics) {
    this.metrics = metrics;
  }

  /** Records which of {@code model}'s pins came from the lockfile, for the messages. */
  void pinnedFromLock(String model, Set<String> paths) {
    lockPinned.put(model, paths);
  }

  void forget(String model) {
    lockPinned.remove(model);
  }

  String pinnedBy(ModelConfig model, String path) {
    return lockPinned.getOrDefault(model.name(), Set.of()).contains(path)
        ? "pinned in modelcache.lock"
        : "pinned in the config";
  }

  /** The SHA-256 the file must have: its pin, else the source's digest, else null. */
  static @Nullable String expectedSha256(ModelConfig model, SourceFile file) {
    String pin = model.sha256().get(file.path());
    return pin != null ? pin : file.sha256();
  }

  /** Before any download: every pin names a listed file and agrees with the source's digest. */
  void checkPins(ModelConfig model, Map<String, SourceFile> byPath) throws IOException {
    for (Map.Entry<String, String> pin : model.sha256().entrySet()) {
      SourceFile file = byPath.get(pin.getKey());
      if (file == null) {
        throw new SourceException(
            model.name()
                + " - sha256 pin for '"
                + pin.getKey()
                + "' names a file that "
                + model.source()
                + " does not have (files: "
                + String.join(", ", byPath.keySet())
                + ")");
      }
      if (file.sha256() != null && !file.sha256().equals(pin.getValue())) {
        throw pinMismatch(
            model,
            file.path(),
            pin.getValue(),
            file.sha256()
                + " ("
                + (file.sha256Origin() != null ? file.sha256Origin() : "the source's digest")
                + ")",
            MOVED_ADVICE);
      }
    }
  }

  /**
   * Refuses, under {@code require_pins}, files that nothing vouches for; otherwise warns that the
   * S3 ones are trusted on first use.
   */
  static void checkVouched(ModelConfig model, Map<String, SourceFile> byPath)
      throws SourceException {
    List<String> unvouched =
        byPath.values().stream()
            .filter(f -> !f.vouched() && !model.sha256().containsKey(f.path()))
            .map(SourceFile::path)
            .toList();
    if (unvouched.isEmpty()) {
      return;
    }
    if (model.requirePins()) {
      throw new SourceException(
          model.name()
              + " - require_pins is set and nothing vouches for "
              + String.join(", ", unvouched)
              + " (no sha256 pin in the config or modelcache.lock"
              + switch (model.source().scheme()) {
                case S3 ->
                    ", no x-amz-checksum-sha256, no .sha256 sidecar object, no modelcache.lock in the"
                        + " bucket";
                case GCS -> ", no .sha256 sidecar object, no modelcache.lock in the bucket";
                case AZURE -> ", no .sha256 sidecar blob (a Content-MD5 checks transport only)";
                default -> "";
              }
              + "); pin them, or run 'modelcache lock' where the bytes can be trusted");
    }
    warnTrustedOnFirstUse(model, unvouched);
  }

  /** Warns, per file, that nothing vouches for its bytes and that they are trusted on first use. */
  private static void warnTrustedOnFirstUse(ModelConfig model, List<String> unvouched) {
    if (model.source().scheme() == SourceRef.Scheme.URL) {
      for (String path : unvouched) {
        log.warn(
            "{} - {}: require_pins is false and it has no sha256 pin: trusting its bytes on first"
                + " use; its SHA-256 is recorded in modelcache.lock",
            model.name(),
            path);
      }
    }
    if (model.source().scheme() == SourceRef.Scheme.GCS) {
      for (String path : unvouched) {
        log.warn(
            "{} - {}: nothing upstream vouches for its bytes (no pin, no {}.sha256 object, no"
                + " modelcache.lock in the bucket): trusting them on first use; its SHA-256 is"
                + " recorded in modelcache.lock",
            model.name(),
            path,
            path);
      }
    }
    if (model.source().scheme() == SourceRef.Scheme.AZURE) {
      for (String path : unvouched) {
        log.warn(
            "{} - {}: nothing upstream vouches for its bytes (no pin, no {}.sha256 blob):"
                + " trusting them on first use; its SHA-256 is recorded in modelcache.lock",
            model.name(),
            path,
            path);
      }
    }
    if (model.source().scheme() == SourceRef.Scheme.S3) {
      for (String path : unvouched) {
        log.warn(
            "{} - {}: nothing upstream vouches for its bytes (no pin, no x-amz-checksum-sha256, no"
                + " {}.sha256 object): trusting them on first use; its SHA-256 is recorded in"
                + " modelcache.lock",
            model.name(),
            path,
            path);
      }
    }
  }

  /** After a download: the copy has the file's pinned or listed SHA-256 and its git blob SHA-1. */
  void check(ModelConfig model, SourceFile file, StagedFile copy) throws ChecksumMismatchException {
    String pin = model.sha256().get(file.path());
    String expected = pin != null ? pin : file.sha256();
    if (expected != null && !expected.equals(copy.sha256())) {
      if (pin != null) {
        throw pinMismatch(
            model, file.path(), expected, copy.sha256(), ChecksumMismatchException.PIN_ADVICE);
      }
      throw mismatch(
          model,
          file.path(),
          "sha256",
          expected,
          file.sha256Origin() != null ? file.sha256Origin() : "the source's digest",
          copy.sha256(),
          TRANSIT_ADVICE);
    }
    if (file.gitSha1() != null && !file.gitSha1().equals(copy.gitSha1())) {
      throw mismatch(
          model,
          file.path(),
          "git-sha1",
          file.gitSha1(),
          "the source's git blob digest",
          copy.gitSha1(),
          TRANSIT_ADVICE);
    }
  }

  private ChecksumMismatchException pinMismatch(
      ModelConfig model, String path, String pin, String actual, String advice) {
    return mismatch(model, path, "sha256", pin, pinnedBy(model, path), actual, advice);
  }

  private ChecksumMismatchException mismatch(
      ModelConfig model,
      String path,
      String algorithm,
      String expected,
      String expectedBy,
      @Nullable String actual,
      String advice) {
    metrics.verifyFailures(model.name()).increment();
    return new ChecksumMismatchException(
        model.name(), path, algorithm, expected, expectedBy, actual, advice);
  }
}
