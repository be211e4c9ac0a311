package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.LimitedInputStream;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.RetryableSourceException;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.ByteSink;
import dev.modelcache.store.StoreException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * Moving the bytes of one file (or of one range of it) into a sink: resumes after cuts, retries.
 */
final class Transfer {
  private final Retrier retrier;
  private final ModelConfig model;
  private final ModelSource source;
  private final String sourceLabel;
  private final Snapshot snapshot;
  private final SourceFile file;

  Transfer(
      Retrier retrier,
      ModelConfig model,
      ModelSource source,
      String sourceLabel,
      Snapshot snapshot,
      SourceFile file) {
    this.retrier = retrier;
    this.model = model;
    this.source = source;
    this.sourceLabel = sourceLabel;
    this.snapshot = snapshot;
    this.file = file;
  }

  ModelConfig model() {
    return model;
  }

  SourceFile file() {
    return file;
  }

  String sourceLabel() {
    return sourceLabel;
  }

  /** Whether the source serves this file's bytes as ranges (see {@link ModelSource#ranges}). */
  boolean ranges() {
    return source.ranges(model, file);
  }

  /** Fills {@code sink} up to {@code end}, resuming from its position after each cut. */
  void run(ByteSink sink, long end, BooleanSupplier stopped, LongConsumer progress)
      throws IOException, InterruptedException {
    for (int attempt = 1; ; attempt++) {
      if (stopped.getAsBoolean()) {
        throw new Downloader.DownloadAborted();
      }
      IOException cause;
      long before = sink.position();
      if (before >= end) {
        return; // complete already (kept by an earlier attempt): nothing to ask for
      }
      // cut off at the bytes asked for: nothing past them reaches the disk
      try (InputStream raw = source.open(model, snapshot, file, before, end);
          LimitedInputStream in = new LimitedInputStream(raw, end - before)) {
        sink.append(in, progress);
        if (sink.position() >= end) {
          requireEnd(in, model, file, before, end);
          return;
        }
        cause =
            new RetryableSourceException(
                "the transfer ended at byte " + sink.position() + " of " + end, null);
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
      if (sink.position() > before) {
        attempt = 1; // progress was made: the connection, not the file, is the problem
      }
      if (retrier.exhausted(attempt)) {
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
      retrier.pause(
          model, sourceLabel, file.path(), " from byte " + sink.position(), attempt, cause);
    }
  }

  private static final long MAX_EXTRA_COUNTED = 1 << 20;

  /**
   * Fails when a body cut off at the bytes expected of it goes on past them, naming both sizes (the
   * extra bytes are read, up to 1 MiB, to say how many came, and dropped).
   */
  private static void requireEnd(
      LimitedInputStream in, ModelConfig model, SourceFile file, long from, long end)
      throws IOException {
    long extra = in.overrun(MAX_EXTRA_COUNTED);
    if (extra == 0) {
      return;
    }
    long expected = end - from;
    boolean whole = from == 0 && end == file.size();
    throw new Overlong(
        model.name()
            + " - "
            + file.path()
            + ": the source sent more bytes than expected for "
            + (whole ? "the file" : "bytes " + from + "-" + (end - 1) + " of the file")
            + " (expected "
            + expected
            + ", received "
            + (extra > MAX_EXTRA_COUNTED ? "more than " : "")
            + (expected + extra)
            + (whole ? "" : "; the file is " + file.size() + " bytes as listed")
            + "); it was cut off at the expected size and dropped: the source is misbehaving or"
            + " the file changed since it was listed; fetch again, and if it persists report it"
            + " upstream");
  }

  /** The source sent more than the bytes asked for: never retried, never written. */
  static final class Overlong extends SourceException {
    private static final long serialVersionUID = 1L;

    Overlong(String message) {
      super(message);
    }
  }
}
