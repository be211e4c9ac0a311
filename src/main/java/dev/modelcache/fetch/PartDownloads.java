package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.source.RangeNotSatisfiableException;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.BlobLock;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.PartFile;
import dev.modelcache.store.RangedPart;
import dev.modelcache.store.StagedFile;
import dev.modelcache.store.StoreException;
import dev.modelcache.threads.NamedThreads;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bytes of one file into its part on the volume, which survives the process: in one stream, or
 * as several byte ranges at once (on the {@code modelcache-range-N} threads) hashed in order behind
 * the written frontier. A part the source refuses to resume (HTTP 416) or that grows past the file
 * is dropped; a write that fails on a full volume says how much is missing.
 */
final class PartDownloads implements AutoCloseable {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  /** At most this many ranges per file. */
  static final int RANGES = 4;

  private final CacheStore store;
  private final ModelStates states;
  private final long rangedMinBytes;
  private final NamedThreads rangeThreads = NamedThreads.numbered("modelcache-range");
  private final ExecutorService ranges = Executors.newCachedThreadPool(rangeThreads);

  PartDownloads(CacheStore store, ModelStates states, long rangedMinBytes) {
    this.store = store;
    this.states = states;
    this.rangedMinBytes = rangedMinBytes;
  }

  /** A downloaded file and whether it began with bytes kept by an earlier attempt. */
  record Downloaded(StagedFile copy, boolean resumed) {}

  /** Thrown (its part already dropped) when the source refused to resume a part: HTTP 416. */
  static final class StalePart extends IOException {
    private static final long serialVersionUID = 1L;

    StalePart(RangeNotSatisfiableException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /**
   * The file's bytes into its part under {@code key}: as several ranges at once when it is at least
   * {@code rangedMinBytes} large and its source serves ranges, else in one stream.
   *
   * @throws StalePart when the source refused to resume the part kept by an earlier attempt
   */
  Downloaded download(
      Transfer transfer, AtomicBoolean abort, Counter bytes, String key, BlobLock lock)
      throws IOException, InterruptedException {
    return transfer.file().size() >= rangedMinBytes && transfer.ranges()
        ? downloadRanged(transfer, abort, bytes, key, lock)
        : downloadWhole(transfer, abort, bytes, key, lock);
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
      AtomicReference<Exception> failure = new AtomicReference<>();
      List<Future<?>> running =
          startRegions(
              transfer, part, stopped, progress(transfer.model(), stopped, bytes), stop, failure);
      IOException hashFailure = null;
      try {
        part.hash(stopped);
      } catch (IOException e) {
        stop.set(true);
        hashFailure = e;
      }
      awaitAll(running);
      throwRegionFailure(transfer, part, failure.get());
      if (abort.get()) {
        throw new Downloader.DownloadAborted();
      }
      if (hashFailure != null) {
        throw hashFailure;
      }
      return new Downloaded(part.finish(), resumed);
    }
  }

  /**
   * One task per region of {@code part}; the first to fail records its failure and stops the others
   * at their next chunk.
   */
  private List<Future<?>> startRegions(
      Transfer transfer,
      RangedPart part,
      BooleanSupplier stopped,
      LongConsumer progress,
      AtomicBoolean stop,
      AtomicReference<Exception> failure) {
    List<Future<?>> running = new ArrayList<>();
    for (RangedPart.Region region : part.regions()) {
      running.add(
          ranges.submit(
              () -> {
                try {
                  transfer.run(region, region.end(), stopped, progress);
                } catch (Downloader.DownloadAborted e) {
                  part.fail();
                } catch (Exception e) {
                  failure.compareAndSet(null, e);
                  stop.set(true);
                  part.fail();
                }
                return null;
              }));
    }
    return running;
  }

  /** Throws what the first failed region met, its part dropped where it cannot be resumed. */
  private void throwRegionFailure(Transfer transfer, RangedPart part, @Nullable Exception first)
      throws IOException, InterruptedException {
    SourceFile file = transfer.file();
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
            + ByteSize.human(left)
            + ") of it still to write, "
            + (usable < 0 ? "unknown" : usable + " bytes (" + ByteSize.human(usable) + ")")
            + " free at "
            + store.root()
            + "; free space (modelcache gc --delete) or grow the volume, then fetch again: what was"
            + " written is kept and the download resumes",
        e);
  }

  private LongConsumer progress(ModelConfig model, BooleanSupplier stopped, Counter bytes) {
    return n -> {
      if (stopped.getAsBoolean()) {
        throw new Downloader.DownloadAborted();
      }
      states.fetched(model.name(), n);
      bytes.increment((double) n);
    };
  }

  @Override
  public void close() {
    rangeThreads.stop(ranges, NamedThreads.STOP_WAIT, log);
  }
}
