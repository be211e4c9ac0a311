package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import dev.modelcache.store.Verifier.Problem;
import dev.modelcache.store.Verifier.Report;
import dev.modelcache.store.VerifyPlan.Hashed;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of a verification, one model at a time: waits for its files' hashes, quarantines what no
 * longer matches its install record, records the new stamps of what still does, and reports. One
 * per run of {@link Verifier#verify}.
 */
final class VerifyResolver {
  /** Verifier's: the verification logs under one name, whichever of its classes finds what. */
  private static final Logger log = LoggerFactory.getLogger(Verifier.class);

  private final CacheStore store;
  private final VerifyFindings findings;

  /** Blobs found corrupted and moved, across the models of one run: a blob may be shared. */
  private final Map<Path, Quarantined> quarantined = new HashMap<>();

  VerifyResolver(CacheStore store, VerifyFindings findings) {
    this.store = store;
    this.findings = findings;
  }

  /** Waits for the model's hashes, quarantines what no longer matches, records new stamps. */
  Report resolve(VerifyPlan plan) {
    long start = System.nanoTime();
    ModelConfig model = plan.model;
    List<Problem> problems = new ArrayList<>(plan.problems);
    Map<InstalledFile, FileStamp> restamped = new LinkedHashMap<>();
    long hashNanos = 0;
    long bytes = 0;
    for (Map.Entry<InstalledFile, Future<Hashed>> entry : plan.hashes.entrySet()) {
      InstalledFile file = entry.getKey();
      Hashed hashed = awaitHash(model, file, entry.getValue(), problems);
      if (hashed == null) {
        continue;
      }
      hashNanos += hashed.nanos();
      bytes += file.size();
      if (hashed.sha256().equals(file.sha256())) {
        if (hashed.stamp() != null && !hashed.stamp().equals(file.stamp())) {
          restamped.put(file, hashed.stamp());
        }
      } else {
        String outcome = findings.quarantine(model, file);
        quarantined.put(file.blob(), new Quarantined(hashed.sha256(), outcome));
        problems.add(findings.corrupt(model, file, hashed.sha256(), outcome));
      }
    }
    if (!restamped.isEmpty()) {
      recordStamps(plan, restamped);
    }
    Duration took = Duration.ofNanos(plan.nanos + hashNanos + System.nanoTime() - start);
    return report(plan, bytes, took, problems);
  }

  /**
   * The hash of {@code file}, or null when there is none to check: its blob was quarantined
   * already, or could not be read (the problem added to {@code problems}).
   */
  private @Nullable Hashed awaitHash(
      ModelConfig model, InstalledFile file, Future<Hashed> future, List<Problem> problems) {
    Quarantined earlier = quarantined.get(file.blob());
    if (earlier != null) {
      // another file or model sharing this blob found it corrupted first and moved it
      awaitQuietly(future);
      problems.add(findings.corrupt(model, file, earlier.actual(), earlier.outcome()));
      return null;
    }
    try {
      return await(future);
    } catch (IOException e) {
      problems.add(
          VerifyFindings.unreadable(
              model,
              file.path(),
              file.path() + ": cannot read blob " + file.blob() + ": " + e.getMessage()));
      return null;
    }
  }

  private Report report(VerifyPlan plan, long bytes, Duration took, List<Problem> problems) {
    Report report =
        new Report(
            plan.model,
            plan.snapshot,
            plan.mode,
            plan.hashes.size(),
            bytes,
            took,
            List.copyOf(problems));
    if (plan.snapshot != null) {
      log.info(
          "{} - verified ({}) {} files in {} ms: {} re-hashed ({}), {}",
          plan.model.name(),
          plan.mode,
          plan.snapshot.files().size(),
          took.toMillis(),
          plan.hashes.size(),
          ByteSize.mib(bytes),
          problems.isEmpty() ? "all match" : problems.size() + " problem(s)");
    }
    return report;
  }

  private void recordStamps(VerifyPlan plan, Map<InstalledFile, FileStamp> restamped) {
    if (!store.writable()) {
      log.debug(
          "{} - {} new stamps not recorded: the cache is read-only",
          plan.model.name(),
          restamped.size());
      return;
    }
    List<InstalledFile> files = new ArrayList<>();
    for (InstalledFile file :
        Objects.requireNonNull(plan.snapshot, "stamps of a snapshot").files()) {
      FileStamp stamp = restamped.get(file);
      files.add(stamp == null ? file : file.withStamp(stamp));
    }
    try {
      store.recordStamps(
          plan.model, new InstalledSnapshot(plan.snapshot.id(), plan.snapshot.dir(), files));
    } catch (IOException e) {
      log.warn(
          "{} - could not record the stamps of {} re-hashed files: {}; they will be re-hashed"
              + " again",
          plan.model.name(),
          restamped.size(),
          e.getMessage());
    }
  }

  private static <T> T await(Future<T> future) throws IOException {
    try {
      return future.get();
    } catch (InterruptedException e) {
      future.cancel(true);
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while verifying");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      Throwable cause = Objects.requireNonNull(e.getCause(), "an ExecutionException has a cause");
      throw new IOException(cause.toString(), cause);
    }
  }

  private static void awaitQuietly(Future<?> future) {
    try {
      await(future);
    } catch (IOException e) {
      // the blob is already accounted for
    }
  }

  private record Quarantined(String actual, String outcome) {}
}
