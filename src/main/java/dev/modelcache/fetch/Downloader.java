package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.BlobLock;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.Digests;
import dev.modelcache.store.StagedFile;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the bytes of the files a fetch lacks onto the volume, several files at once: each under its
 * blob lock, into a part that survives the process, resumed after a cut, as several byte ranges
 * when it is large ({@link PartDownloads} moves the bytes), checked against its digests and set
 * aside verified.
 */
final class Downloader implements AutoCloseable {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private final CacheStore store;
  private final Metrics metrics;
  private final Retrier retrier;
  private final DigestPolicy digests;
  private final PartDownloads parts;
  private final AtomicBoolean warnedNoLocks = new AtomicBoolean();

  /** A Hub file is listed only with its etag ({@code HubDescriber} refuses one without). */
  static final String HUB_ETAG = "a Hub file has an etag";

  Downloader(
      CacheStore store,
      ModelStates states,
      Metrics metrics,
      Retrier retrier,
      DigestPolicy digests,
      long rangedMinBytes) {
    this.store = store;
    this.metrics = metrics;
    this.retrier = retrier;
    this.digests = digests;
    this.parts = new PartDownloads(store, states, rangedMinBytes);
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
  @Nullable StagedFile download(
      ModelConfig model,
      ModelSource source,
      String sourceLabel,
      Snapshot snapshot,
      SourceFile file,
      AtomicBoolean abort)
      throws IOException, InterruptedException {
    boolean hub = model.source().scheme() == SourceRef.Scheme.HF;
    String known = hub ? file.etag() : DigestPolicy.expectedSha256(model, file);
    String key = known != null ? known : "path-" + Digests.sha256Hex(file.path()).substring(0, 40);
    try (BlobLock lock = lock(model, file, key)) {
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
      return downloadChecked(transfer, abort, bytes, key, lock, hub);
    }
  }

  /** The file's blob lock, saying who holds it while this process waits. */
  private BlobLock lock(ModelConfig model, SourceFile file, String key) throws IOException {
    return store.lock(
        model,
        key,
        holder ->
            log.info(
                "{} - {}: waiting for {}, which is downloading it ({} on disk so far)",
                model.name(),
                file.path(),
                holder,
                ByteSize.human(store.partBytes(model, key))));
  }

  /**
   * Downloads the file under its lock and sets it aside once its digests match. Bytes kept by an
   * earlier attempt are checked, never trusted: when they do not fit the file (a 416 on the resume,
   * a digest mismatch) they are dropped and the file is fetched once more from its start, so that
   * no leftover can wedge the cache.
   */
  private StagedFile downloadChecked(
      Transfer transfer, AtomicBoolean abort, Counter bytes, String key, BlobLock lock, boolean hub)
      throws IOException, InterruptedException {
    ModelConfig model = transfer.model();
    SourceFile file = transfer.file();
    for (int attempt = 1; ; attempt++) {
      PartDownloads.Downloaded got;
      try {
        got = parts.download(transfer, abort, bytes, key, lock);
      } catch (PartDownloads.StalePart e) {
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
      if (!transportChecked(transfer, got, attempt)) {
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
      return store.setAside(
          model,
          got.copy(),
          hub ? Objects.requireNonNull(file.etag(), HUB_ETAG) : got.copy().sha256());
    }
  }

  /**
   * Whether the file has the CRC32C/MD5 its store reports ({@link TransportCheck}); when not, its
   * bytes are dropped and, after a pause, false says to fetch it again from its start, until the
   * retries run out.
   */
  private boolean transportChecked(Transfer transfer, PartDownloads.Downloaded got, int attempt)
      throws IOException, InterruptedException {
    ModelConfig model = transfer.model();
    try {
      TransportCheck.verify(model, transfer.file(), got.copy().temp());
      return true;
    } catch (TransportCheck.Mismatch e) {
      store.discard(got.copy());
      if (retrier.exhausted(attempt)) {
        throw new SourceException(e.getMessage() + " (gave up after " + attempt + " attempts)", e);
      }
      retrier.pause(model, transfer.sourceLabel(), transfer.file().path(), "", attempt, e);
      return false;
    }
  }

  private void warnNoLocks() {
    if (warnedNoLocks.compareAndSet(false, true)) {
      log.warn(
          "the cache volume {} does not support file locks: processes sharing it may download the same"
              + " file twice (every file is still published whole, by an atomic rename)",
          store.root());
    }
  }

  @Override
  public void close() {
    parts.close();
  }
}
