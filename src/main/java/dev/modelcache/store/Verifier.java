package dev.modelcache.store;

import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import dev.modelcache.store.VerifyPlan.Hashed;
import dev.modelcache.threads.NamedThreads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks what the cache holds for each model against its install record. {@code fast} compares
 * every blob's size, mtime and inode with the {@link FileStamp} recorded when its bytes were last
 * verified (one {@code stat} per file, no byte read) and re-hashes only the files whose stamp
 * differs or is missing; {@code full} re-hashes every file. Files of all models are hashed several
 * at once, one per thread. A file whose bytes no longer match its recorded SHA-256 is moved to
 * {@code .modelcache/quarantine/}, logged once at WARN and counted in {@code
 * modelcache_verify_failures_total}; re-hashed files that still match get their new stamp recorded.
 * On a read-only cache nothing is moved or recorded. Every file is checked where a load reads it,
 * at its {@link CacheStore#realPath}: a symlink in the cache that leads outside it or to other
 * bytes than the file's blob is reported naming the path (a blob that is a symlink is quarantined,
 * the link only), and nothing behind it is hashed.
 *
 * <pre>{@code
 * try (Verifier verifier = new Verifier(store, metrics, Clock.systemUTC())) {
 *   for (Verifier.Report report : verifier.verify(config.models(), VerifyMode.FAST)) {
 *     report.problems().forEach(p -> System.err.println(p.message()));
 *   }
 * }
 * }</pre>
 */
public final class Verifier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Verifier.class);

  /** Computes the SHA-256 of a file; tests count the calls. */
  public interface Hasher {
    String sha256(Path file) throws IOException;
  }

  /** What kind of problem a verification found. */
  public enum Kind {
    /** No install record for the model. */
    NOT_INSTALLED,
    /** A blob is absent (or was quarantined before). */
    MISSING,
    /**
     * A snapshot path does not link to its blob, or a symlink in the cache leads outside it or to
     * other bytes than its blob's.
     */
    LINK,
    /** A blob's bytes differ from the SHA-256 recorded at install. */
    CORRUPT,
    /** A pin of the config differs from what is installed, or names a file not installed. */
    PIN,
    /** A blob could not be read. */
    UNREADABLE
  }

  /**
   * One problem.
   *
   * @param path the file's path in the snapshot, or null for the model as a whole
   * @param message one line, starting with the model's name
   */
  public record Problem(Kind kind, @Nullable String path, String message) {}

  /**
   * The verification of one model.
   *
   * @param snapshot what is installed, or null when nothing is
   * @param hashed how many files were re-hashed
   * @param took the time spent on this model's files: stats, hashing and quarantine
   */
  public record Report(
      ModelConfig model,
      @Nullable InstalledSnapshot snapshot,
      VerifyMode mode,
      int hashed,
      long bytesHashed,
      Duration took,
      List<Problem> problems) {
    public Report {
      problems = List.copyOf(problems);
    }

    public boolean ok() {
      return problems.isEmpty();
    }
  }

  private final CacheStore store;
  private final VerifyFindings findings;
  private final VerifyPlanner planner;
  private final Hasher hasher;
  private final int threads;
  private final NamedThreads hashingThreads = NamedThreads.numbered("modelcache-verify");
  private final ExecutorService hashing;

  /** A verifier hashing on one thread per available processor. */
  public Verifier(CacheStore store, Metrics metrics, Clock clock) {
    this(store, metrics, clock, Runtime.getRuntime().availableProcessors(), Digests::sha256Hex);
  }

  public Verifier(CacheStore store, Metrics metrics, Clock clock, int threads, Hasher hasher) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads (" + threads + ") must be positive");
    }
    this.store = store;
    this.findings = new VerifyFindings(store, metrics, clock);
    this.planner = new VerifyPlanner(store, findings);
    this.hasher = hasher;
    this.threads = threads;
    this.hashing = Executors.newFixedThreadPool(threads, hashingThreads);
  }

  public int threads() {
    return threads;
  }

  /**
   * What of {@code model} is absent from the cache, by its install record and the presence and size
   * of its blobs only (no stamp, no byte read): what a process that cannot fetch needs to know
   * before it starts. The messages state the fact; the caller adds what to do.
   */
  public static List<Problem> missing(CacheStore store, ModelConfig model) throws IOException {
    Optional<InstalledSnapshot> snapshot = store.installed(model);
    if (snapshot.isEmpty()) {
      return List.of(VerifyFindings.notInstalled(store, model));
    }
    List<Problem> problems = new ArrayList<>();
    for (InstalledFile file : snapshot.get().files()) {
      if (!Files.isRegularFile(file.blob()) || Files.size(file.blob()) != file.size()) {
        problems.add(VerifyFindings.missingBlob(model, file));
      }
    }
    return problems;
  }

  /**
   * Verifies every model in {@code models}, hashing the files of all of them at once; returns one
   * report per model, in order.
   */
  public List<Report> verify(List<ModelConfig> models, VerifyMode mode) throws IOException {
    long start = System.nanoTime();
    List<VerifyPlan> plans = new ArrayList<>();
    for (ModelConfig model : models) {
      plans.add(planner.plan(model, mode));
    }
    submitLargestFirst(plans);
    List<Report> reports = new ArrayList<>();
    VerifyResolver resolver = new VerifyResolver(store, findings);
    for (VerifyPlan plan : plans) {
      reports.add(resolver.resolve(plan));
    }
    int files = 0;
    int hashed = 0;
    long bytes = 0;
    for (Report report : reports) {
      files += report.snapshot() == null ? 0 : report.snapshot().files().size();
      hashed += report.hashed();
      bytes += report.bytesHashed();
    }
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    log.info(
        "verification ({}) of {} models took {} ms: {} files, {} re-hashed ({}){}",
        mode,
        models.size(),
        millis,
        files,
        hashed,
        ByteSize.mib(bytes),
        hashed == 0 ? "" : " on " + Math.min(threads, hashed) + " threads");
    return reports;
  }

  /**
   * Queues every file to hash, largest first, so that the threads finish together rather than one
   * hashing the last big file alone.
   */
  private void submitLargestFirst(List<VerifyPlan> plans) {
    record Job(VerifyPlan plan, InstalledFile file) {}
    List<Job> jobs = new ArrayList<>();
    plans.forEach(plan -> plan.toHash.forEach(file -> jobs.add(new Job(plan, file))));
    jobs.sort(Comparator.comparingLong((Job job) -> job.file().size()).reversed());
    Map<Job, Future<Hashed>> futures = new HashMap<>();
    for (Job job : jobs) {
      Path real =
          Objects.requireNonNull(job.plan().real.get(job.file()), "a file to hash has its path");
      futures.put(job, hashing.submit(() -> hash(real)));
    }
    for (VerifyPlan plan : plans) {
      for (InstalledFile file : plan.toHash) {
        plan.hashes.put(file, futures.get(new Job(plan, file)));
      }
    }
  }

  private Hashed hash(Path blob) throws IOException {
    long start = System.nanoTime();
    FileStamp before = FileStamp.of(blob);
    String sha256 = hasher.sha256(blob);
    FileStamp after = FileStamp.of(blob);
    // a file that changed while it was read gets no stamp: the next verification reads it again
    return new Hashed(sha256, before.equals(after) ? after : null, System.nanoTime() - start);
  }

  @Override
  public void close() {
    hashingThreads.stop(hashing, NamedThreads.STOP_WAIT, log);
  }
}
