package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelStates;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.RangeNotSatisfiableException;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.BlobLock;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.PartFile;
import dev.modelcache.store.RangedPart;
import dev.modelcache.store.StagedFile;
import dev.modelcache.store.StoreException;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the bytes of the files a fetch lacks onto the volume, several files at once: each under its
 * blob lock, into a part that survives the process, resumed after a cut, as several byte ranges
 * when it is large, checked against its digests and set aside verified.
 */
final class Downloader implements AutoCloseable {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  /** At most this many ranges per file. */
  static final int RANGES = 4;

  private final CacheStore store;
  private final ModelStates states;
  private final Metrics metrics;
  private final Retrier retrier;
  private final DigestPolicy digests;
  private final long rangedMinBytes;
  private final ExecutorService ranges;
  private final AtomicBoolean warnedNoLocks = new AtomicBoolean();

  Downloader(
      CacheStore store,
      ModelStates states,
      Metrics metrics,
      Retrier retrier,
      DigestPolicy digests,
      long rangedMinBytes) {
    this.store = store;
    this.states = states;
    this.metrics = metrics;
    this.retrier = retrier;
    this.digests = digests;
    this.rangedMinBytes = rangedMinBytes;
    AtomicInteger rangeThreads = new AtomicInteger();
    this.ranges =
        Executors.newCachedThreadPool(
            task -> {
              Thread thread =
                  new Thread(task, "modelcache-range-" + rangeThreads.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * The file when the cache already holds its bytes: installed in {@code blobs/}, or verified and
   * set aside by an earlier fetch that did not finish. Only files whose blob name is known up front
   * (the Hub's etag, a pin, the recorded digest of an unchanged local file) can be found.
   */
  Optional<CacheStore.Entry> inCache(ModelConfig model, SourceFile file) throws IOException {
    String expected = DigestPolicy.expectedSha256(model, file);
    String blob = model.source().scheme() == SourceRef.Scheme.HF ? file.etag() : expected;
    if (blob == null) {
      return Optional.empty();
    }
    // look where files come from before where they go: a verified file moves from the set-aside
    // area into
    // blobs/ when another process installs it, and must not slip between the two looks
    Optional<java.nio.file.Path> aside = store.setAside(model, blob, file.size());
    if (aside.isPresent()) {
      String sha256 = expected != null ? expected : CacheStore.sha256Of(aside.get());
      StagedFile staged = new StagedFile(aside.get(), file.size(), sha256, file.gitSha1());
      return Optional.of(new CacheStore.Entry(file.path(), blob, file.size(), sha256, staged));
    }
    Optional<java.nio.file.Path> installed = store.blob(model, blob, file.size());
    if (installed.isPresent()) {
      String sha256 = expected != null ? expected : CacheStore.sha256Of(installed.get());
      return Optional.of(new CacheStore.Entry(file.path(), blob, file.size(), sha256, null));
    }
    return Optional.empty();
  }

  /** Thrown inside a download when another file of the same fetch failed. */
  static final class DownloadAborted extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DownloadAborted() {
      super("stopped: another file of the fetch failed", null, false, false);
    }
  }

  /**
   * Downloads one file, resuming after cuts, and checks its size and digests. Files of {@link
   * Fetcher#RANGED_MIN_BYTES} or more are fetched as several byte ranges at once.
   */
  StagedFile download(
      ModelConfig model,
      ModelSource source,
      String sourceLabel,
      Snapshot snapshot,
      SourceFile file,
      AtomicBoolean abort)
      throws IOException, InterruptedException {
    boolean hub = model.source().scheme() == SourceRef.Scheme.HF;
    String known = hub ? file.etag() : DigestPolicy.expectedSha256(model, file);
    String key = known != null ? known : "path-" + sha256Hex(file.path()).substring(0, 40);
    try (BlobLock lock =
        store.lock(
            model,
            key,
            holder ->
                log.info(
                    "{} - {}: waiting for {}, which is downloading it ({} on disk so far)",
                    model.name(),
                    file.path(),
                    holder,
                    Fetcher.human(store.partBytes(model, key))))) {
      if (!lock.crossProcess()) {
        warnNoLocks();
      }
      if (known != null) {
        // another process may have finished it while this one waited for the lock
        Optional<CacheStore.Entry> cached = inCache(model, file);
        if (cached.isPresent()) {
          return cached.get().staged(); // null when it is already installed
        }
      }
      Counter bytes = metrics.fetchBytes(model.name(), sourceLabel);
      Transfer transfer = new Transfer(retrier, model, source, sourceLabel, snapshot, file);
      // Bytes kept by an earlier attempt are checked, never trusted: when they do not fit the file
      // (a 416 on the resume, a digest mismatch) they are dropped and the file is fetched once more
      // from its start, so that no leftover can wedge the cache.
      for (int attempt = 1; ; attempt++) {
        Downloaded got;
        try {
          got =
              file.size() >= rangedMinBytes
                  ? downloadRanged(transfer, abort, bytes, key, lock)
                  : downloadWhole(transfer, abort, bytes, key, lock);
        } catch (StalePart e) {
          if (attempt > 1) {
            throw new SourceException(
                model.name()
                    + " - "
                    + file.path()
                    + ": the source refused a byte range even on a fresh start (HTTP 416): it"
                    + " has fewer bytes than the "
                    + file.size()
                    + " it listed; fetch again, and if it persists report it upstream",
                e.getCause());
          }
          log.warn(
              "{} - {}: the source refused to resume it (HTTP 416): the bytes kept from an earlier"
                  + " attempt were dropped; fetching the file again from its start",
              model.name(),
              file.path());
          continue;
        }
        try {
          digests.check(model, file, got.copy());
        } catch (ChecksumMismatchException e) {
          store.discard(got.copy());
          if (got.resumed() && attempt == 1) {
            log.warn(
                "{} - {}: the bytes kept from an earlier attempt do not match its digest ({}):"
                    + " dropped; fetching the file again from its start",
                model.name(),
                file.path(),
                e.getMessage());
            continue;
          }
          throw e;
        }
        return store.setAside(model, got.copy(), hub ? file.etag() : got.copy().sha256());
      }
    }
  }

  /** A downloaded file and whether it began with bytes kept by an earlier attempt. */
  private record Downloaded(StagedFile copy, boolean resumed) {}

  /** Thrown (its part already dropped) when the source refused to resume a part: HTTP 416. */
  private static final class StalePart extends IOException {
    private static final long serialVersionUID = 1L;

    StalePart(RangeNotSatisfiableException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /** One file in one stream, into a part that survives the process. */
  private Downloaded downloadWhole(
      Transfer transfer, AtomicBoolean abort, Counter bytes, String key, BlobLock lock)
      throws IOException, InterruptedException {
    ModelConfig model = transfer.model();
    SourceFile file = transfer.file();
    try (PartFile part =
        store.part(model, key, file.size(), file.gitSha1() != null ? file.size() : -1, lock)) {
      boolean resumed = part.size() > 0;
      if (resumed) {
        log.info(
            "{} - {}: resuming from byte {} left by an earlier attempt{}",
            model.name(),
            file.path(),
            part.size(),
            part.size() == file.size() ? " (complete: checking it)" : "");
      }
      try {
        transfer.run(part, file.size(), abort::get, progress(model, abort::get, bytes));
      } catch (RangeNotSatisfiableException e) {
        part.delete();
        throw new StalePart(e);
      } catch (Transfer.Overlong e) {
        part.delete();
        throw e;
      } catch (StoreException e) {
        throw diskFull(model, file, e, file.size() - part.size());
      }
      if (part.size() != file.size()) {
        part.delete();
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
      return new Downloaded(part.finish(), resumed);
    }
  }

  /**
   * A write to the volume failed: when it is full, says how many bytes are missing and what to do
   * (the bytes written stay for the next fetch).
   */
  private StoreException diskFull(ModelConfig model, SourceFile file, StoreException e, long left) {
    long usable = store.usableBytes();
    String cause = String.valueOf(e.getCause() != null ? e.getCause().getMessage() : "");
    boolean full =
        cause.contains("No space left")
            || cause.contains("Disk quota exceeded")
            || (usable >= 0 && usable < left);
    if (!full) {
      return e;
    }
    return new StoreException(
        model.name()
            + " - "
            + file.path()
            + ": the cache volume is full ("
            + cause
            + "): "
            + left
            + " bytes ("
            + Fetcher.human(left)
            + ") of it still to write, "
            + (usable < 0 ? "unknown" : usable + " bytes (" + Fetcher.human(usable) + ")")
            + " free at "
            + store.root()
            + "; free space (modelcache gc --delete) or grow the volume, then fetch again: what was"
            + " written is kept and the download resumes",
        e);
  }

  private void warnNoLocks() {
    if (warnedNoLocks.compareAndSet(false, true)) {
      log.warn(
          "the cache volume {} does not support file locks: processes sharing it may download the same"
              + " file twice (every file is still published whole, by an atomic rename)",
          store.root());
    }
  }

  private static String sha256Hex(String text) {
    try {
      return java.util.HexFormat.of()
          .formatHex(
              java.security.MessageDigest.getInstance("SHA-256")
                  .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  /** Several ranges at once into one file, hashed in order behind the written frontier. */
  private Downloaded downloadRanged(
      Transfer transfer, AtomicBoolean abort, Counter bytes, String key, BlobLock lock)
      throws IOException, InterruptedException {
    SourceFile file = transfer.file();
    int parts = (int) Math.min(RANGES, Math.max(2, file.size() / (rangedMinBytes / 2)));
    try (RangedPart part =
        store.rangedPart(transfer.model(), key, file.size(), parts, file.gitSha1() != null, lock)) {
      boolean resumed = part.resumed();
      if (resumed) {
        log.info(
            "{} - {}: resuming {} of {} bytes left by an earlier attempt",
            transfer.model().name(),
            file.path(),
            part.written(),
            file.size());
      }
      AtomicBoolean stop = new AtomicBoolean();
      BooleanSupplier stopped = () -> stop.get() || abort.get();
      LongConsumer progress = progress(transfer.model(), stopped, bytes);
      AtomicReference<Exception> failure = new AtomicReference<>();
      List<Future<?>> running = new ArrayList<>();
      for (RangedPart.Region region : part.regions()) {
        running.add(
            ranges.submit(
                () -> {
                  try {
                    transfer.run(region, region.end(), stopped, progress);
                  } catch (DownloadAborted e) {
                    part.fail();
                  } catch (Exception e) {
                    failure.compareAndSet(null, e);
                    stop.set(true);
                    part.fail();
                  }
                  return null;
                }));
      }
      IOException hashFailure = null;
      try {
        part.hash(stopped);
      } catch (IOException e) {
        stop.set(true);
        hashFailure = e;
      }
      awaitAll(running);
      Exception first = failure.get();
      if (first instanceof RangeNotSatisfiableException stale) {
        part.delete();
        throw new StalePart(stale);
      } else if (first instanceof Transfer.Overlong overlong) {
        part.delete();
        throw overlong;
      } else if (first instanceof StoreException store) {
        throw diskFull(transfer.model(), file, store, file.size() - part.written());
      } else if (first instanceof IOException io) {
        throw io;
      } else if (first instanceof InterruptedException interrupted) {
        throw interrupted;
      } else if (first != null) {
        throw new IOException(transfer.model().name() + " - " + first, first);
      }
      if (abort.get()) {
        throw new DownloadAborted();
      }
      if (hashFailure != null) {
        throw hashFailure;
      }
      return new Downloaded(part.finish(), resumed);
    }
  }

  /**
   * Waits until every task has ended, whatever happens, so nothing writes to a part after its
   * cleanup.
   */
  private static void awaitAll(List<Future<?>> tasks) {
    boolean interrupted = false;
    for (Future<?> task : tasks) {
      while (true) {
        try {
          task.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          break; // the task records its own failure
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private LongConsumer progress(ModelConfig model, BooleanSupplier stopped, Counter bytes) {
    return n -> {
      if (stopped.getAsBoolean()) {
        throw new DownloadAborted();
      }
      states.fetched(model.name(), n);
      bytes.increment((double) n);
    };
  }

  @Override
  public void close() {
    ranges.shutdownNow();
  }
}
