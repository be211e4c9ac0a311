package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.StagedFile;
import dev.modelcache.threads.NamedThreads;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** The files of one fetch downloaded several at once, on named threads, all or none. */
final class ParallelDownloads implements AutoCloseable {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private final Downloader downloader;
  private final NamedThreads threads = NamedThreads.numbered("modelcache-download");
  private final ExecutorService downloads;

  ParallelDownloads(Downloader downloader, int parallelFiles) {
    this.downloader = downloader;
    this.downloads = Executors.newFixedThreadPool(parallelFiles, threads);
  }

  /**
   * Downloads {@code files} several at once. On the first failure the others are told to stop at
   * their next chunk; every task is waited for, so no part is still being written when this returns
   * or throws.
   */
  Map<String, StagedFile> downloadAll(
      ModelConfig model,
      ModelSource source,
      String sourceLabel,
      Snapshot snapshot,
      List<SourceFile> files)
      throws IOException {
    AtomicBoolean abort = new AtomicBoolean();
    Map<String, Future<StagedFile>> running =
        start(model, source, sourceLabel, snapshot, files, abort);
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
          if (failure == null && !(e.getCause() instanceof Downloader.DownloadAborted)) {
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
      throw failure; // verified files stay set aside for the next fetch
    }
    return staged;
  }

  /** One download task per file, keyed by its path, all told to stop once {@code abort} is set. */
  private Map<String, Future<StagedFile>> start(
      ModelConfig model,
      ModelSource source,
      String sourceLabel,
      Snapshot snapshot,
      List<SourceFile> files,
      AtomicBoolean abort) {
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
                  return downloader.download(model, source, sourceLabel, snapshot, file, abort);
                } finally {
                  MDC.clear();
                }
              }));
    }
    return running;
  }

  @Override
  public void close() {
    threads.stop(downloads, NamedThreads.STOP_WAIT, log);
  }
}
