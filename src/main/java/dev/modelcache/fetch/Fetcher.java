package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelStates;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.RetryableSourceException;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.PartFile;
import dev.modelcache.store.StagedFile;
import dev.modelcache.store.StoreException;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Brings one model from its source onto the volume: lists it, downloads the files the cache lacks
 * (several at once), hashing each while it streams, resumes a cut transfer from the bytes already
 * on disk, retries what may pass with bounded backoff, checks every digest (config pins first, then
 * the source's own: the Hub's SHA-256 for LFS files, its git blob SHA-1 for the others), and
 * installs the snapshot only when every file matched.
 *
 * <pre>{@code
 * try (Fetcher fetcher = new Fetcher(store, sources, states, metrics, clock, false)) {
 *   InstalledSnapshot snapshot = fetcher.fetch(model);
 * }
 * }</pre>
 */
public final class Fetcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);
  static final int PARALLEL_FILES = 4;
  private static final String TRANSIT_ADVICE =
      "The bytes were damaged in transit or by the server; fetch again, and if it persists report it upstream";

  private final CacheStore store;
  private final Map<SourceRef.Scheme, ModelSource> sources;
  private final ModelStates states;
  private final Metrics metrics;
  private final Clock clock;
  private final boolean offline;
  private final Backoff backoff;
  private final Backoff.Sleeper sleeper;
  private final ExecutorService downloads;

  public Fetcher(
      CacheStore store,
      Map<SourceRef.Scheme, ModelSource> sources,
      ModelStates states,
      Metrics metrics,
      Clock clock,
      boolean offline) {
    this(
        store,
        sources,
        states,
        metrics,
        clock,
        offline,
        Backoff.standard(),
        d -> Thread.sleep(d.toMillis()));
  }

  Fetcher(
      CacheStore store,
      Map<SourceRef.Scheme, ModelSource> sources,
      ModelStates states,
      Metrics metrics,
      Clock clock,
      boolean offline,
      Backoff backoff,
      Backoff.Sleeper sleeper) {
    this.store = store;
    this.sources = Map.copyOf(sources);
    this.states = states;
    this.metrics = metrics;
    this.clock = clock;
    this.offline = offline;
    this.backoff = backoff;
    this.sleeper = sleeper;
    AtomicInteger threads = new AtomicInteger();
    this.downloads =
        Executors.newFixedThreadPool(
            PARALLEL_FILES,
            task -> {
              Thread thread = new Thread(task, "modelcache-download-" + threads.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
  }

  /** Fetches and verifies {@code model}; downloads nothing the cache already holds. */
  public InstalledSnapshot fetch(ModelConfig model) throws IOException {
    SourceRef.Scheme scheme = model.source().scheme();
    if (offline && scheme != SourceRef.Scheme.FILE) {
      return store
          .installed(model)
          .orElseThrow(
              () ->
                  new SourceException(
                      model.name()
                          + " - offline"
                          + " (cache.offline, MODELCACHE_OFFLINE or HF_HUB_OFFLINE) and not in the cache at "
                          + store.repoDir(model)
                          + "; run 'modelcache fetch' where "
                          + model.source()
                          + " is reachable, or turn offline mode off"));
    }
    ModelSource source = sources.get(scheme);
    if (source == null) {
      throw new SourceException(
          model.name() + " - no source for " + model.source() + " in this version");
    }
    String sourceLabel = scheme.name().toLowerCase(Locale.ROOT);
    // Registered at 0 now, so that increase() over the counters sees their first step.
    metrics.fetchBytes(model.name(), sourceLabel);
    metrics.fetchRetries(model.name(), sourceLabel);
    Instant start = clock.instant();
    Snapshot snapshot =
        withRetries(model, sourceLabel, "listing " + model.source(), () -> source.resolve(model));
    Map<String, SourceFile> byPath = new TreeMap<>();
    for (SourceFile file : snapshot.files()) {
      CacheStore.checkRelativePath(file.path());
      byPath.put(file.path(), file);
    }
    checkPins(model, byPath);

    boolean hub = scheme == SourceRef.Scheme.HF;
    Map<String, CacheStore.Entry> present = new LinkedHashMap<>();
    List<SourceFile> missing = new ArrayList<>();
    for (SourceFile file : byPath.values()) {
      String expected = expectedSha256(model, file);
      String blob = hub ? file.etag() : expected;
      Optional<java.nio.file.Path> existing =
          blob == null ? Optional.empty() : store.blob(model, blob, file.size());
      if (existing.isPresent()) {
        String sha256 = expected != null ? expected : CacheStore.sha256Of(existing.get());
        present.put(
            file.path(), new CacheStore.Entry(file.path(), blob, file.size(), sha256, null));
      } else {
        missing.add(file);
      }
    }
    long toFetch = missing.stream().mapToLong(SourceFile::size).sum();
    if (!missing.isEmpty()) {
      states.fetching(model.name(), toFetch);
      log.info(
          "{} - fetching {} of {} files, {} from {}{}",
          model.name(),
          missing.size(),
          byPath.size(),
          human(toFetch),
          model.source(),
          snapshot.revision() == null ? "" : " at " + snapshot.revision());
    }
    Map<String, StagedFile> staged = downloadAll(model, source, sourceLabel, snapshot, missing);
    boolean installed = false;
    try {
      states.verifying(model.name());
      List<CacheStore.Entry> entries = new ArrayList<>();
      Map<String, String> sha256ByPath = new TreeMap<>();
      for (SourceFile file : byPath.values()) {
        CacheStore.Entry entry = present.get(file.path());
        if (entry == null) {
          StagedFile copy = staged.get(file.path());
          entry =
              new CacheStore.Entry(
                  file.path(), hub ? file.etag() : copy.sha256(), copy.size(), copy.sha256(), copy);
        }
        entries.add(entry);
        sha256ByPath.put(file.path(), entry.sha256());
      }
      String id = hub ? snapshot.revision() : CacheStore.snapshotId(sha256ByPath);
      InstalledSnapshot result = store.install(model, id, CacheStore.refName(model), entries);
      installed = true;
      Duration took = Duration.between(start, clock.instant());
      if (missing.isEmpty()) {
        log.info(
            "{} - up to date: snapshot {} ({} files, {}, all in the cache)",
            model.name(),
            id,
            entries.size(),
            human(result.totalBytes()));
      } else {
        metrics.fetched(model.name(), took);
        log.info(
            "{} - installed snapshot {} ({} files, {} fetched in {} ms, {}/s)",
            model.name(),
            id,
            entries.size(),
            human(toFetch),
            took.toMillis(),
            human((long) (toFetch / Math.max(0.001, took.toMillis() / 1000.0))));
      }
      return result;
    } finally {
      if (!installed) {
        staged.values().forEach(store::discard);
      }
    }
  }

  private void checkPins(ModelConfig model, Map<String, SourceFile> byPath) throws IOException {
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
        metrics.verifyFailures(model.name()).increment();
        throw new ChecksumMismatchException(
            model.name(),
            file.path(),
            "sha256",
            pin.getValue(),
            "pinned in the config",
            file.sha256() + " (the source's digest)",
            "The source now holds other bytes than the pin (a moved branch?), so nothing was downloaded: pin the"
                + " revision to a commit, or update the pin if the new bytes are intended");
      }
    }
  }

  private static String expectedSha256(ModelConfig model, SourceFile file) {
    String pin = model.sha256().get(file.path());
    return pin != null ? pin : file.sha256();
  }

  /**
   * Downloads {@code files} several at once. On the first failure the others are told to stop at
   * their next chunk; every task is waited for, so no part is still being written when this returns
   * or throws.
   */
  private Map<String, StagedFile> downloadAll(
      ModelConfig model,
      ModelSource source,
      String sourceLabel,
      Snapshot snapshot,
      List<SourceFile> files)
      throws IOException {
    AtomicBoolean abort = new AtomicBoolean();
    Map<String, Future<StagedFile>> running = new LinkedHashMap<>();
    // The log fields of the caller (the model being prepared) follow the download threads.
    Map<String, String> mdc = MDC.getCopyOfContextMap();
    for (SourceFile file : files) {
      running.put(
          file.path(),
          downloads.submit(
              () -> {
                if (mdc != null) {
                  MDC.setContextMap(mdc);
                }
                try {
                  return download(model, source, sourceLabel, snapshot, file, abort);
                } finally {
                  MDC.clear();
                }
              }));
    }
    Map<String, StagedFile> staged = new LinkedHashMap<>();
    IOException failure = null;
    boolean interrupted = false;
    for (Map.Entry<String, Future<StagedFile>> task : running.entrySet()) {
      while (true) {
        try {
          staged.put(task.getKey(), task.getValue().get());
          break;
        } catch (ExecutionException e) {
          abort.set(true);
          if (failure == null && !(e.getCause() instanceof DownloadAborted)) {
            failure =
                e.getCause() instanceof IOException io
                    ? io
                    : new IOException(model.name() + " - " + e.getCause(), e.getCause());
          }
          break;
        } catch (InterruptedException e) {
          // keep waiting: the tasks must finish before their parts can be cleaned up
          interrupted = true;
          abort.set(true);
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
      failure =
          failure != null ? failure : new InterruptedIOException(model.name() + " - interrupted");
    }
    if (failure != null) {
      staged.values().forEach(store::discard);
      throw failure;
    }
    return staged;
  }

  /** Thrown inside a download when another file of the same fetch failed. */
  private static final class DownloadAborted extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DownloadAborted() {
      super("stopped: another file of the fetch failed", null, false, false);
    }
  }

  /** Downloads one file into a part, resuming after cuts, and checks its size and digests. */
  private StagedFile download(
      ModelConfig model,
      ModelSource source,
      String sourceLabel,
      Snapshot snapshot,
      SourceFile file,
      AtomicBoolean abort)
      throws IOException, InterruptedException {
    Counter bytes = metrics.fetchBytes(model.name(), sourceLabel);
    try (PartFile part = store.newPart(file.gitSha1() != null ? file.size() : -1)) {
      for (int attempt = 1; ; attempt++) {
        if (abort.get()) {
          throw new DownloadAborted();
        }
        IOException cause;
        long before = part.size();
        try (InputStream in = source.open(model, snapshot, file, before)) {
          part.append(
              in,
              n -> {
                if (abort.get()) {
                  throw new DownloadAborted();
                }
                states.fetched(model.name(), n);
                bytes.increment(n);
              });
          if (part.size() >= file.size() || file.size() < 0) {
            break;
          }
          cause =
              new RetryableSourceException(
                  "the transfer ended at byte " + part.size() + " of " + file.size(), null);
        } catch (StoreException e) {
          throw e;
        } catch (RetryableSourceException e) {
          cause = e;
        } catch (SourceException e) {
          throw e;
        } catch (IOException e) {
          if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException(
                model.name() + " - " + file.path() + ": download cancelled");
          }
          cause = e;
        }
        if (part.size() > before) {
          attempt = 1; // progress was made: the connection, not the file, is the problem
        }
        if (attempt >= backoff.maxAttempts()) {
          throw new SourceException(
              model.name()
                  + " - "
                  + file.path()
                  + ": gave up after "
                  + attempt
                  + " attempts without progress; last error: "
                  + cause.getMessage(),
              cause);
        }
        Duration wait =
            backoff.delay(
                attempt, cause instanceof RetryableSourceException r ? r.retryAfter() : null);
        metrics.fetchRetries(model.name(), sourceLabel).increment();
        log.warn(
            "{} - {}: {}; retrying in {} ms from byte {} (attempt {} of {})",
            model.name(),
            file.path(),
            cause.getMessage(),
            wait.toMillis(),
            part.size(),
            attempt + 1,
            backoff.maxAttempts());
        sleeper.sleep(wait);
      }
      if (part.size() != file.size()) {
        throw new SourceException(
            model.name()
                + " - "
                + file.path()
                + ": expected "
                + file.size()
                + " bytes, got "
                + part.size()
                + "; the source changed while fetching");
      }
      StagedFile copy = part.finish();
      try {
        check(model, file, copy);
      } catch (IOException e) {
        store.discard(copy);
        throw e;
      }
      return copy;
    }
  }

  private void check(ModelConfig model, SourceFile file, StagedFile copy)
      throws ChecksumMismatchException {
    String pin = model.sha256().get(file.path());
    String expected = pin != null ? pin : file.sha256();
    if (expected != null && !expected.equals(copy.sha256())) {
      metrics.verifyFailures(model.name()).increment();
      if (pin != null) {
        throw new ChecksumMismatchException(
            model.name(), file.path(), expected, copy.sha256(), "pinned in the config");
      }
      throw new ChecksumMismatchException(
          model.name(),
          file.path(),
          "sha256",
          expected,
          "the source's digest",
          copy.sha256(),
          TRANSIT_ADVICE);
    }
    if (file.gitSha1() != null && !file.gitSha1().equals(copy.gitSha1())) {
      metrics.verifyFailures(model.name()).increment();
      throw new ChecksumMismatchException(
          model.name(),
          file.path(),
          "git-sha1",
          file.gitSha1(),
          "the source's git blob digest",
          copy.gitSha1(),
          TRANSIT_ADVICE);
    }
  }

  /** Runs {@code action}, retrying {@link RetryableSourceException}s with backoff. */
  private <T> T withRetries(
      ModelConfig model, String sourceLabel, String what, SourceCall<T> action) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        return action.call();
      } catch (RetryableSourceException e) {
        if (attempt >= backoff.maxAttempts()) {
          throw new SourceException(
              e.getMessage() + " (gave up after " + attempt + " attempts)", e);
        }
        Duration wait = backoff.delay(attempt, e.retryAfter());
        metrics.fetchRetries(model.name(), sourceLabel).increment();
        log.warn(
            "{} - {}: {}; retrying in {} ms (attempt {} of {})",
            model.name(),
            what,
            e.getMessage(),
            wait.toMillis(),
            attempt + 1,
            backoff.maxAttempts());
        try {
          sleeper.sleep(wait);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException(
              model.name() + " - interrupted while waiting to retry " + what);
        }
      }
    }
  }

  private interface SourceCall<T> {
    T call() throws IOException;
  }

  @Override
  public void close() {
    downloads.shutdownNow();
    try {
      if (!downloads.awaitTermination(10, TimeUnit.SECONDS)) {
        log.warn("download threads did not stop within 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    if (bytes < 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }
    if (bytes < 1024L * 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
    }
    return String.format(Locale.ROOT, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  }
}
