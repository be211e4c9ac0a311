package dev.modelcache.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * A large download written as several byte ranges at once, each at its place in one temporary file,
 * while {@link #hash} computes the file's digests in order right behind the written frontier
 * (reading back what the page cache still holds), so hashing overlaps the transfer instead of
 * following it. Each {@link Region} resumes on its own after a cut, and after a crash from the
 * progress saved in a {@code .state} file beside the part.
 *
 * <p>The state file is rewritten (temp file, atomic rename) every {@link #SAVE_EVERY} bytes of a
 * range, without an fsync, so that a {@code kill -9} costs at most that much per range. What it
 * claims is checked before it is believed: each range's line carries the CRC32C of the bytes it
 * claims, recomputed from the disk on restart, and the offset up to which the bytes were fsynced
 * before that line was written, the fallback when the claim does not hold (a power loss that lost
 * page-cache bytes). A saved offset therefore never makes unwritten bytes count as downloaded.
 */
public final class RangedPart implements AutoCloseable {
  private static final long FLUSH_EVERY = 128L << 20;

  /** A range's progress is saved at least this often (bytes). */
  static final long SAVE_EVERY = 256L << 10;

  private final Path temp;
  private final long size;
  private final FileChannel channel;
  private final List<Region> regions = new ArrayList<>();
  private final MessageDigest sha256 = Digests.sha256();
  private final MessageDigest gitSha1;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progressed = lock.newCondition();
  private final boolean resumable;
  private final RangeProgress progress;
  private volatile boolean failed;
  private boolean hashed;
  private boolean finished;

  RangedPart(Path temp, long size, int parts, boolean gitBlob) throws IOException {
    this(temp, size, parts, gitBlob, false);
  }

  /**
   * @param resumable keep the part and a {@code .state} file beside it (each range's bytes written,
   *     saved every {@link #SAVE_EVERY} bytes) when the download stops, and take them up again when
   *     they match
   */
  RangedPart(Path temp, long size, int parts, boolean gitBlob, boolean resumable)
      throws IOException {
    this.temp = temp;
    this.size = size;
    this.resumable = resumable;
    this.progress = new RangeProgress(temp);
    this.channel =
        resumable
            ? FileChannel.open(
                temp, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
            : FileChannel.open(
                temp,
                StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ,
                StandardOpenOption.WRITE);
    if (gitBlob) {
      gitSha1 = Digests.gitBlobSha1(size);
    } else {
      gitSha1 = null;
    }
    long step = (size + parts - 1) / parts;
    for (long start = 0; start < size; start += step) {
      regions.add(new Region(start, Math.min(size, start + step)));
    }
    if (resumable) {
      restoreState();
    }
  }

  /**
   * Takes up the ranges' progress saved by an earlier attempt, when it describes this same
   * download: each range from the bytes its CRC32C vouches for, else from its fsynced offset. A
   * state file that is missing, empty, unreadable or for another layout starts the file over.
   */
  private void restoreState() throws IOException {
    List<long[]> ranges = regions.stream().map(r -> new long[] {r.start, r.end}).toList();
    List<RangeProgress.Line> saved = progress.read(size, ranges);
    if (saved == null) {
      if (channel.size() > 0) {
        channel.truncate(0);
      }
      return;
    }
    long onDisk = channel.size();
    for (int i = 0; i < regions.size(); i++) {
      Region region = regions.get(i);
      long claimed = saved.get(i).written();
      long durable = saved.get(i).durable();
      CRC32C crc = crcOf(region.start, Math.min(claimed, onDisk - region.start));
      if (region.start + claimed > onDisk || crc.getValue() != saved.get(i).crc()) {
        claimed = Math.max(0, Math.min(durable, onDisk - region.start));
        crc = crcOf(region.start, claimed);
      }
      region.restore(claimed, durable, crc);
    }
  }

  /** The CRC32C of {@code length} bytes of the part from {@code start}, read back from disk. */
  private CRC32C crcOf(long start, long length) throws IOException {
    CRC32C crc = new CRC32C();
    ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
    for (long at = start; at < start + length; ) {
      buffer.clear().limit((int) Math.min(buffer.capacity(), start + length - at));
      int n = channel.read(buffer, at);
      if (n <= 0) {
        break;
      }
      buffer.flip();
      crc.update(buffer);
      at += n;
    }
    return crc;
  }

  /** Bytes written so far, all ranges together. */
  public long written() {
    return regions.stream().mapToLong(r -> r.written).sum();
  }

  /** Whether bytes saved by an earlier attempt were taken up. */
  public boolean resumed() {
    return regions.stream().anyMatch(r -> r.written > 0);
  }

  /**
   * Saves each range's progress (temp file, atomic rename); with {@code sync} the state file is
   * fsynced too. Each range's line holds its bytes written with their CRC32C, and its offset
   * fsynced before this call.
   */
  private synchronized void saveState(boolean sync) throws IOException {
    if (!resumable) {
      return;
    }
    List<RangeProgress.Line> lines = new ArrayList<>();
    for (Region region : regions) {
      Mark mark = region.mark;
      lines.add(
          new RangeProgress.Line(
              region.start,
              region.end,
              mark.written(),
              mark.crc(),
              Math.min(region.flushed, mark.written())));
    }
    progress.save(size, lines, sync);
  }

  /**
   * Writes back every range's bytes, then saves the progress: the offsets marked fsynced are true
   * after a power loss too.
   */
  private synchronized void checkpoint() throws IOException {
    Mark[] marks = regions.stream().map(r -> r.mark).toArray(Mark[]::new);
    try {
      channel.force(false);
    } catch (IOException e) {
      throw new StoreException("cannot write back " + temp + ": " + e.getMessage(), e);
    }
    for (int i = 0; i < marks.length; i++) {
      regions.get(i).flushed = marks[i].written();
    }
    saveState(true);
  }

  /** The ranges to download, in file order, covering the whole file. */
  public List<Region> regions() {
    return List.copyOf(regions);
  }

  /** Wakes {@link #hash} so that it gives up: a region failed for good. */
  public void fail() {
    failed = true;
    signal();
  }

  /**
   * Digests the file in order as the regions fill it; returns when every byte is hashed.
   *
   * @param abort polled while waiting: true makes the hash give up
   * @throws InterruptedIOException when a region failed or {@code abort} turned true
   */
  public void hash(BooleanSupplier abort) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
    byte[] bytes = new byte[buffer.capacity()];
    long position = 0;
    int index = 0;
    while (position < size) {
      Region region = regions.get(index);
      long frontier = waitBeyond(region, position, abort);
      buffer.clear().limit((int) Math.min(buffer.capacity(), frontier - position));
      int n = channel.read(buffer, position);
      if (n <= 0) {
        throw new IOException("cannot read back " + temp + " at " + position);
      }
      buffer.flip().get(bytes, 0, n);
      sha256.update(bytes, 0, n);
      if (gitSha1 != null) {
        gitSha1.update(bytes, 0, n);
      }
      position += n;
      if (position == region.end) {
        index++;
      }
    }
    hashed = true;
  }

  private long waitBeyond(Region region, long position, BooleanSupplier abort) throws IOException {
    lock.lock();
    try {
      while (region.frontier() <= position) {
        if (failed || abort.getAsBoolean()) {
          throw new InterruptedIOException("download of " + temp.getFileName() + " stopped");
        }
        try {
          // signalled at every chunk; the timeout only bounds how late an abort is noticed
          progressed.await(100, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted while hashing " + temp.getFileName());
        }
      }
      return region.frontier();
    } finally {
      lock.unlock();
    }
  }

  private void signal() {
    lock.lock();
    try {
      progressed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Fsyncs and closes the file once every region is written and hashed; it is then ready to
   * install.
   */
  public StagedFile finish() throws IOException {
    if (!hashed) {
      throw new IllegalStateException("finish() before hash() completed");
    }
    channel.force(true);
    channel.close();
    finished = true;
    return StagedFile.digested(temp, size, sha256, gitSha1);
  }

  /**
   * Closes the file. A resumable part keeps its bytes and saves its ranges' progress for the next
   * attempt; otherwise it is deleted unless {@link #finish()} handed it over.
   */
  @Override
  public void close() throws IOException {
    if (finished) {
      return; // the state goes with the part (see CacheStore#setAside): a crash between the two
      // finds the part complete, and checks it instead of fetching it again
    }
    if (resumable && channel.isOpen() && written() > 0) {
      try {
        checkpoint();
      } finally {
        channel.close();
      }
      return;
    }
    // nothing written (or not resumable): no empty part or state file is left behind
    channel.close();
    Files.deleteIfExists(temp);
    progress.delete();
  }

  /** Drops the bytes and the saved progress: the next attempt starts over. */
  public void delete() throws IOException {
    channel.close();
    Files.deleteIfExists(temp);
    progress.delete();
  }

  /** A range's bytes written and the CRC32C of them, published together. */
  private record Mark(long written, long crc) {}

  /** One byte range {@code [start, end)}, written in order from {@code start}. */
  public final class Region implements ByteSink {
    private final long start;
    private final long end;
    private volatile long written;
    private volatile long flushed;
    private volatile Mark mark = new Mark(0, new CRC32C().getValue());
    private CRC32C crc = new CRC32C(); // the appending thread's
    private long saved;

    Region(long start, long end) {
      this.start = start;
      this.end = end;
    }

    private void restore(long bytes, long durable, CRC32C digest) {
      written = bytes;
      flushed = Math.min(durable, bytes);
      saved = bytes;
      crc = digest;
      mark = new Mark(bytes, digest.getValue());
    }

    public long end() {
      return end;
    }

    long frontier() {
      return start + written;
    }

    @Override
    public long position() {
      return start + written;
    }

    @Override
    @SuppressWarnings("NonAtomicVolatileUpdate") // one thread writes a range; others only read
    public void append(InputStream in, LongConsumer progress) throws IOException {
      byte[] buffer = new byte[1 << 16];
      int n;
      while (position() < end
          && (n = in.read(buffer, 0, (int) Math.min(buffer.length, end - position()))) >= 0) {
        ByteBuffer chunk = ByteBuffer.wrap(buffer, 0, n);
        long at = position();
        try {
          while (chunk.hasRemaining()) {
            at += channel.write(chunk, at);
          }
        } catch (IOException e) {
          throw new StoreException("cannot write " + temp + ": " + e.getMessage(), e);
        }
        crc.update(buffer, 0, n);
        written += n;
        mark = new Mark(written, crc.getValue());
        signal();
        if (written - flushed >= FLUSH_EVERY) {
          // write back as the transfer goes on, so the final fsync has little left to do (the other
          // ranges and the hash keep going meanwhile), and record how far it got for a restart
          checkpoint();
          saved = written;
        } else if (written - saved >= SAVE_EVERY || written == end - start) {
          saveState(false); // a kill -9 loses at most SAVE_EVERY bytes of this range
          saved = written;
        }
        progress.accept(n);
      }
    }
  }
}
