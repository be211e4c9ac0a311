package dev.modelcache.store;

import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
  public record Problem(Kind kind, String path, String message) {}

  /**
   * The verification of one model.
   *
   * @param snapshot what is installed, or null when nothing is
   * @param hashed how many files were re-hashed
   * @param took the time spent on this model's files: stats, hashing and quarantine
   */
  public record Report(
      ModelConfig model,
      InstalledSnapshot snapshot,
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
  private final Metrics metrics;
  private final Clock clock;
  private final Hasher hasher;
  private final int threads;
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
    this.metrics = metrics;
    this.clock = clock;
    this.hasher = hasher;
    this.threads = threads;
    AtomicInteger count = new AtomicInteger();
    this.hashing =
        Executors.newFixedThreadPool(
            threads,
            task -> {
              Thread thread = new Thread(task, "modelcache-verify-" + count.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
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
      return List.of(notInstalled(store, model));
    }
    List<Problem> problems = new ArrayList<>();
    for (InstalledFile file : snapshot.get().files()) {
      if (!Files.isRegularFile(file.blob()) || Files.size(file.blob()) != file.size()) {
        problems.add(missingBlob(model, file));
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
    List<Plan> plans = new ArrayList<>();
    for (ModelConfig model : models) {
      plans.add(plan(model, mode));
    }
    submitLargestFirst(plans);
    List<Report> reports = new ArrayList<>();
    Map<Path, Quarantined> quarantined = new HashMap<>();
    for (Plan plan : plans) {
      reports.add(resolve(plan, quarantined));
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

  /** The cheap part, in the caller's thread: record, pins, blobs, links and stamps. */
  private Plan plan(ModelConfig model, VerifyMode mode) {
    long start = System.nanoTime();
    Plan plan = new Plan(model, mode);
    Optional<InstalledSnapshot> installed;
    try {
      installed = store.installed(model);
    } catch (IOException e) {
      plan.problems.add(
          new Problem(
              Kind.UNREADABLE,
              null,
              model.name()
                  + " - cannot read its install record: "
                  + e.getMessage()
                  + "; run 'modelcache fetch'"));
      plan.nanos = System.nanoTime() - start;
      return plan;
    }
    if (installed.isEmpty()) {
      plan.problems.add(fetchAdvice(notInstalled(store, model)));
      plan.nanos = System.nanoTime() - start;
      return plan;
    }
    InstalledSnapshot snapshot = installed.get();
    plan.snapshot = snapshot;
    String name = model.name();
    try {
      SnapshotLinks.checkFolders(snapshot);
    } catch (StoreException e) {
      plan.problems.add(unsafeLink(model, null, e));
      plan.foldersUnsafe = true;
    }
    try {
      SnapshotLinks.checkStrayLinks(snapshot);
    } catch (StoreException e) {
      plan.problems.add(unsafeLink(model, null, e));
    }
    for (InstalledFile file : snapshot.files()) {
      try {
        planFile(plan, file);
      } catch (IOException e) {
        plan.problems.add(
            new Problem(
                Kind.UNREADABLE,
                file.path(),
                name + " - " + file.path() + ": cannot check blob " + file.blob() + ": " + e));
      }
    }
    for (String pinned : model.sha256().keySet()) {
      if (snapshot.files().stream().noneMatch(f -> f.path().equals(pinned))) {
        plan.problems.add(
            new Problem(
                Kind.PIN,
                pinned,
                name
                    + " - "
                    + pinned
                    + ": pinned in the config but not in snapshot "
                    + snapshot.id()
                    + "; run 'modelcache fetch'"));
      }
    }
    plan.nanos = System.nanoTime() - start;
    return plan;
  }

  /** Checks one file without reading it: blob, link, pin, stamp. */
  private void planFile(Plan plan, InstalledFile file) throws IOException {
    ModelConfig model = plan.model;
    if (Files.isSymbolicLink(file.blob())) {
      // a blob holds its bytes: a symlink there serves bytes no install verified
      String target = Files.readSymbolicLink(file.blob()).toString();
      plan.problems.add(
          unsafeLink(
              model,
              file.path(),
              file.path()
                  + ": blob "
                  + file.blob()
                  + " is a symlink to "
                  + target
                  + ", not the bytes verified at install; the link "
                  + quarantine(model, file)
                  + "; run 'modelcache fetch'"));
      return;
    }
    if (!Files.isRegularFile(file.blob(), LinkOption.NOFOLLOW_LINKS)) {
      plan.problems.add(fetchAdvice(missingBlob(model, file)));
      return;
    }
    Path real = null;
    if (!plan.foldersUnsafe) {
      try {
        real = SnapshotLinks.realPath(plan.snapshot, file);
      } catch (StoreException e) {
        plan.problems.add(
            e.getMessage().endsWith(SnapshotLinks.NOT_LINKED)
                ? new Problem(Kind.LINK, file.path(), model.name() + " - " + e.getMessage())
                : unsafeLink(model, file.path(), e));
      }
    }
    String pin = model.sha256().get(file.path());
    if (pin != null && !pin.equals(file.sha256())) {
      plan.problems.add(pinMismatch(model, file.path(), pin, file.sha256()));
    }
    if (real == null) {
      return; // nothing verified would be served through it: reported, not hashed
    }
    FileStamp now = FileStamp.of(real);
    if (plan.mode == VerifyMode.FULL || file.stamp() == null || !file.stamp().matches(now)) {
      plan.toHash.add(file);
      plan.real.put(file, real);
    }
  }

  /**
   * Queues every file to hash, largest first, so that the threads finish together rather than one
   * hashing the last big file alone.
   */
  private void submitLargestFirst(List<Plan> plans) {
    record Job(Plan plan, InstalledFile file) {}
    List<Job> jobs = new ArrayList<>();
    plans.forEach(plan -> plan.toHash.forEach(file -> jobs.add(new Job(plan, file))));
    jobs.sort(Comparator.comparingLong((Job job) -> job.file().size()).reversed());
    Map<Job, Future<Hashed>> futures = new HashMap<>();
    for (Job job : jobs) {
      Path real = job.plan().real.get(job.file());
      futures.put(job, hashing.submit(() -> hash(real)));
    }
    for (Plan plan : plans) {
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

  /** Waits for the model's hashes, quarantines what no longer matches, records new stamps. */
  private Report resolve(Plan plan, Map<Path, Quarantined> quarantined) throws IOException {
    long start = System.nanoTime();
    ModelConfig model = plan.model;
    List<Problem> problems = new ArrayList<>(plan.problems);
    Map<InstalledFile, FileStamp> restamped = new LinkedHashMap<>();
    long hashNanos = 0;
    long bytes = 0;
    for (Map.Entry<InstalledFile, Future<Hashed>> entry : plan.hashes.entrySet()) {
      InstalledFile file = entry.getKey();
      Quarantined earlier = quarantined.get(file.blob());
      if (earlier != null) {
        // another file or model sharing this blob found it corrupted first and moved it
        awaitQuietly(entry.getValue());
        problems.add(corrupt(model, file, earlier.actual(), earlier.outcome()));
        continue;
      }
      Hashed hashed;
      try {
        hashed = await(entry.getValue());
      } catch (IOException e) {
        problems.add(
            new Problem(
                Kind.UNREADABLE,
                file.path(),
                model.name()
                    + " - "
                    + file.path()
                    + ": cannot read blob "
                    + file.blob()
                    + ": "
                    + e.getMessage()));
        continue;
      }
      hashNanos += hashed.nanos();
      bytes += file.size();
      if (hashed.sha256().equals(file.sha256())) {
        if (hashed.stamp() != null && !hashed.stamp().equals(file.stamp())) {
          restamped.put(file, hashed.stamp());
        }
      } else {
        String outcome = quarantine(model, file);
        quarantined.put(file.blob(), new Quarantined(hashed.sha256(), outcome));
        problems.add(corrupt(model, file, hashed.sha256(), outcome));
      }
    }
    if (!restamped.isEmpty()) {
      recordStamps(plan, restamped);
    }
    Duration took = Duration.ofNanos(plan.nanos + hashNanos + System.nanoTime() - start);
    Report report =
        new Report(
            model,
            plan.snapshot,
            plan.mode,
            plan.hashes.size(),
            bytes,
            took,
            List.copyOf(problems));
    if (plan.snapshot != null) {
      log.info(
          "{} - verified ({}) {} files in {} ms: {} re-hashed ({}), {}",
          model.name(),
          plan.mode,
          plan.snapshot.files().size(),
          took.toMillis(),
          plan.hashes.size(),
          ByteSize.mib(bytes),
          problems.isEmpty() ? "all match" : problems.size() + " problem(s)");
    }
    return report;
  }

  private String quarantine(ModelConfig model, InstalledFile file) {
    if (!store.writable()) {
      return "left in place: the cache is read-only";
    }
    try {
      return "moved to " + store.quarantine(model, file.blob(), clock.instant());
    } catch (IOException e) {
      return "could not be moved to quarantine: " + e.getMessage();
    }
  }

  private Problem corrupt(ModelConfig model, InstalledFile file, String actual, String outcome) {
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

  private void recordStamps(Plan plan, Map<InstalledFile, FileStamp> restamped) {
    if (!store.writable()) {
      log.debug(
          "{} - {} new stamps not recorded: the cache is read-only",
          plan.model.name(),
          restamped.size());
      return;
    }
    List<InstalledFile> files = new ArrayList<>();
    for (InstalledFile file : plan.snapshot.files()) {
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
      throw new IOException(e.getCause().toString(), e.getCause());
    }
  }

  /**
   * A symlink that leaves the cache or leads to other bytes: a verification failure, logged at WARN
   * and counted like a corrupted file.
   */
  private Problem unsafeLink(ModelConfig model, String path, StoreException e) {
    return unsafeLink(model, path, e.getMessage());
  }

  private Problem unsafeLink(ModelConfig model, String path, String what) {
    metrics.verifyFailures(model.name()).increment();
    String message = model.name() + " - " + what;
    log.warn("{}", message);
    return new Problem(Kind.LINK, path, message);
  }

  private static Problem fetchAdvice(Problem problem) {
    return new Problem(
        problem.kind(), problem.path(), problem.message() + "; run 'modelcache fetch'");
  }

  private static Problem notInstalled(CacheStore store, ModelConfig model) {
    return new Problem(
        Kind.NOT_INSTALLED, null, model.name() + " - not in the cache at " + store.repoDir(model));
  }

  private static Problem missingBlob(ModelConfig model, InstalledFile file) {
    return new Problem(
        Kind.MISSING,
        file.path(),
        model.name() + " - " + file.path() + ": blob " + file.blob() + " is missing");
  }

  private static Problem pinMismatch(ModelConfig model, String path, String pin, String actual) {
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

  @Override
  public void close() {
    hashing.shutdownNow();
    try {
      if (!hashing.awaitTermination(10, TimeUnit.SECONDS)) {
        log.warn("verify threads did not stop within 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void awaitQuietly(Future<?> future) {
    try {
      await(future);
    } catch (IOException e) {
      // the blob is already accounted for
    }
  }

  private record Hashed(String sha256, FileStamp stamp, long nanos) {}

  private record Quarantined(String actual, String outcome) {}

  /** One model between planning and resolution. */
  private static final class Plan {
    final ModelConfig model;
    final VerifyMode mode;
    final List<Problem> problems = new ArrayList<>();
    final List<InstalledFile> toHash = new ArrayList<>();
    final Map<InstalledFile, Future<Hashed>> hashes = new LinkedHashMap<>();

    /** The real path of each file to hash: what a load reads ({@link CacheStore#realPath}). */
    final Map<InstalledFile, Path> real = new HashMap<>();

    InstalledSnapshot snapshot;
    boolean foldersUnsafe;
    long nanos;

    Plan(ModelConfig model, VerifyMode mode) {
      this.model = model;
      this.mode = mode;
    }
  }
}
