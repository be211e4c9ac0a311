package dev.modelcache.store;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Exclusive right to download one blob, across threads of this process and across processes sharing
 * the volume ({@link FileChannel#lock}). The holder writes who it is into the lock file, so a
 * waiter can say whom it waits for. Where the filesystem refuses locks (some network filesystems),
 * the lock degrades to this process only: downloads may then be duplicated, never corrupted, since
 * every final file is published by an atomic rename.
 */
public final class BlobLock implements AutoCloseable {
  private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS =
      new ConcurrentHashMap<>();
  private static final String HOLDER = holder();
  private static final java.time.Duration POLL = java.time.Duration.ofMillis(100);

  private final ReentrantLock local;
  private final FileChannel channel;
  private final @Nullable FileLock lock;

  private BlobLock(ReentrantLock local, FileChannel channel, @Nullable FileLock lock) {
    this.local = local;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock of {@code file}, waiting as long as another thread or process holds it.
   *
   * @param waiting told, once, who holds the lock when it has to wait
   */
  static BlobLock acquire(Path file, Consumer<String> waiting) throws IOException {
    ReentrantLock local =
        IN_PROCESS.computeIfAbsent(file.toAbsolutePath(), p -> new ReentrantLock());
    if (!local.tryLock()) {
      waiting.accept("another download of this process");
      local.lock();
    }
    FileChannel channel = null;
    try {
      Files.createDirectories(file.getParent());
      channel =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (IOException unsupported) {
        // no locks on this filesystem: unique temp files and atomic renames still keep files whole
        return new BlobLock(local, channel, null);
      }
      if (lock == null) {
        waiting.accept(readHolder(channel));
        // Poll rather than block: POSIX locks belong to processes, not threads, so a blocking
        // lock() taken by
        // one download thread while another thread of this process holds a different blob's lock
        // looks like
        // a deadlock to the kernel (EDEADLK) when another process does the same the other way
        // round.
        while ((lock = channel.tryLock()) == null) {
          try {
            Thread.sleep(POLL.toMillis());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for " + file);
          }
        }
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap(HOLDER.getBytes(StandardCharsets.UTF_8)), 0);
      return new BlobLock(local, channel, lock);
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      local.unlock();
      throw e;
    }
  }

  /**
   * Whether a thread of this process or another process holds the lock of {@code file} now (a
   * download of its blob is under way); false where the filesystem has no locks or the file cannot
   * be opened for writing. Creates nothing.
   */
  static boolean held(Path file) {
    ReentrantLock local = IN_PROCESS.get(file.toAbsolutePath());
    if (local != null && local.isLocked()) {
      return true;
    }
    if (!Files.isRegularFile(file)) {
      return false;
    }
    try (FileChannel channel =
        FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      FileLock probe = channel.tryLock();
      if (probe == null) {
        return true;
      }
      probe.release();
      return false;
    } catch (java.nio.channels.OverlappingFileLockException e) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Whether other processes are kept out too (false where the filesystem has no locks). */
  public boolean crossProcess() {
    return lock != null;
  }

  private static String readHolder(FileChannel channel) {
    try {
      ByteBuffer buffer = ByteBuffer.allocate(512);
      int n = channel.read(buffer, 0);
      return n <= 0
          ? "another process"
          : new String(buffer.array(), 0, n, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return "another process";
    }
  }

  private static String holder() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "unknown host";
    }
    return "process "
        + ProcessHandle.current().pid()
        + " on "
        + host
        + " (JVM "
        + ManagementFactory.getRuntimeMXBean().getName()
        + "), since "
        + Instant.now();
  }

  @Override
  public void close() throws IOException {
    try {
      if (lock != null) {
        lock.release();
      }
      channel.close();
    } finally {
      local.unlock();
    }
  }
}
