package dev.modelcache.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
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

/**
 * A large download written as several byte ranges at once, each at its place in one temporary file,
 * while {@link #hash} computes the file's digests in order right behind the written frontier
 * (reading back what the page cache still holds), so hashing overlaps the transfer instead of
 * following it. Each {@link Region} resumes on its own after a cut.
 */
public final class RangedPart implements AutoCloseable {
  private static final long FLUSH_EVERY = 128L << 20;
  private final Path temp;
  private final long size;
  private final FileChannel channel;
  private final List<Region> regions = new ArrayList<>();
  private final MessageDigest sha256 = CacheStore.sha256();
  private final MessageDigest gitSha1;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progressed = lock.newCondition();
  private final boolean resumable;
  private final Path state;
  private volatile boolean failed;
  private boolean hashed;
  private boolean finished;

  RangedPart(Path temp, long size, int parts, boolean gitBlob) throws IOException {
    this(temp, size, parts, gitBlob, false);
  }

  /**
   * @param resumable keep the part and a {@code .state} file beside it (each range's bytes written,
   *     saved after each write-back) when the download stops, and take them up again when they
   *     match
   */
  RangedPart(Path temp, long size, int parts, boolean gitBlob, boolean resumable)
      throws IOException {
    this.temp = temp;
    this.size = size;
    this.resumable = resumable;
    this.state = temp.resolveSibling(temp.getFileName() + ".state");
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
      gitSha1 = CacheStore.sha1();
      gitSha1.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
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
   * download.
   */
  private void restoreState() throws IOException {
    List<String> lines = Files.exists(state) ? Files.readAllLines(state) : List.of();
    boolean matches = lines.size() == regions.size() + 1 && lines.get(0).equals("size " + size);
    for (int i = 0; matches && i < regions.size(); i++) {
      String[] parts = lines.get(i + 1).split(" ");
      Region region = regions.get(i);
      matches =
          parts.length == 3
              && Long.parseLong(parts[0]) == region.start
              && Long.parseLong(parts[1]) == region.end
              && Long.parseLong(parts[2]) <= region.end - region.start;
      if (matches) {
        region.written = Long.parseLong(parts[2]);
        region.flushed = region.written;
      }
    }
    if (!matches) {
      regions.forEach(r -> r.written = 0);
      channel.truncate(0);
    }
  }

  /**
   * Saves each range's progress; called only after a write-back, so it never claims unwritten
   * bytes.
   */
  private synchronized void saveState() throws IOException {
    if (!resumable) {
      return;
    }
    StringBuilder text = new StringBuilder("size " + size + "\n");
    for (Region region : regions) {
      text.append(region.start)
          .append(' ')
          .append(region.end)
          .append(' ')
          .append(region.flushed)
          .append('\n');
    }
    Path tempState = state.resolveSibling(state.getFileName() + ".tmp");
    Files.writeString(tempState, text);
    Files.move(
        tempState,
        state,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
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
      Files.deleteIfExists(state);
      return;
    }
    if (resumable && channel.isOpen()) {
      channel.force(false);
      regions.forEach(r -> r.flushed = r.written);
      saveState();
      channel.close();
      return;
    }
    channel.close();
    Files.deleteIfExists(temp);
    Files.deleteIfExists(state);
  }

  /** Drops the bytes and the saved progress: the next attempt starts over. */
  public void delete() throws IOException {
    channel.close();
    Files.deleteIfExists(temp);
    Files.deleteIfExists(state);
  }

  /** One byte range {@code [start, end)}, written in order from {@code start}. */
  public final class Region implements ByteSink {
    private final long start;
    private final long end;
    private volatile long written;
    private volatile long flushed;

    Region(long start, long end) {
      this.start = start;
      this.end = end;
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
        written += n;
        signal();
        progress.accept(n);
        if (written - flushed >= FLUSH_EVERY) {
          // write back as the transfer goes on, so the final fsync has little left to do (the other
          // ranges and the hash keep going meanwhile), and record how far it got for a restart
          long reached = written;
          channel.force(false);
          flushed = reached;
          saveState();
        }
      }
    }
  }
}
