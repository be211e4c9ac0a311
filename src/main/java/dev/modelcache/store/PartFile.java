package dev.modelcache.store;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;

/**
 * A download in progress: bytes appended in order to a temporary file while their SHA-256 (and, for
 * files the HuggingFace Hub tracks in git, their git blob SHA-1) is computed, so that a transfer
 * cut part-way resumes from {@link #size()} without reading back what is already on disk.
 */
public final class PartFile implements ByteSink, AutoCloseable {
  private final Path temp;
  private final FileChannel channel;
  private final MessageDigest sha256 = Digests.sha256();
  private final @Nullable MessageDigest gitSha1;
  private final byte[] buffer = new byte[1 << 16];
  private final boolean keep;
  private long size;
  private boolean finished;

  /**
   * @param expectedSize when not negative, also computes the git blob SHA-1 of a file of this size
   */
  PartFile(Path temp, long expectedSize) throws IOException {
    this(temp, expectedSize, -1, false);
  }

  /**
   * A part that survives its process: when {@code temp} exists (a download cut by a crash), its
   * bytes are re-read into the digests, so they are verified as part of the whole file, and
   * appending continues after them.
   *
   * @param maxSize a longer existing file is not this download: it is started over
   */
  PartFile(Path temp, long expectedSize, long maxSize, boolean resumable) throws IOException {
    this.temp = temp;
    this.keep = resumable;
    if (expectedSize >= 0) {
      gitSha1 = Digests.gitBlobSha1(expectedSize);
    } else {
      gitSha1 = null;
    }
    if (!resumable) {
      this.channel =
          FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      return;
    }
    this.channel =
        FileChannel.open(
            temp, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    long existing = channel.size();
    if (maxSize >= 0 && existing > maxSize) {
      channel.truncate(0);
      existing = 0;
    }
    ByteBuffer buffer = ByteBuffer.wrap(this.buffer);
    for (long at = 0; at < existing; ) {
      buffer.clear();
      int n = channel.read(buffer, at);
      if (n <= 0) {
        break;
      }
      sha256.update(this.buffer, 0, n);
      if (gitSha1 != null) {
        gitSha1.update(this.buffer, 0, n);
      }
      at += n;
      size = at;
    }
    channel.position(size);
  }

  /** Bytes written so far: the offset to resume from. */
  public long size() {
    return size;
  }

  @Override
  public long position() {
    return size;
  }

  @Override
  public void append(InputStream in, LongConsumer progress) throws IOException {
    int n;
    while ((n = in.read(buffer)) >= 0) {
      if (n == 0) {
        continue;
      }
      ByteBuffer chunk = ByteBuffer.wrap(buffer, 0, n);
      try {
        while (chunk.hasRemaining()) {
          channel.write(chunk);
        }
      } catch (IOException e) {
        throw new StoreException("cannot write " + temp + ": " + e.getMessage(), e);
      }
      sha256.update(buffer, 0, n);
      if (gitSha1 != null) {
        gitSha1.update(buffer, 0, n);
      }
      size += n;
      progress.accept(n);
    }
  }

  /**
   * Fsyncs and closes the file and returns it with its digests; the part is then ready to install.
   */
  public StagedFile finish() throws IOException {
    channel.force(true);
    channel.close();
    finished = true;
    return StagedFile.digested(temp, size, sha256, gitSha1);
  }

  /**
   * Closes the file. A resumable part keeps its bytes, if any, for the next attempt (see {@link
   * #delete()}); a throwaway one is deleted unless {@link #finish()} handed it over.
   */
  @Override
  public void close() throws IOException {
    if (!finished) {
      channel.close();
      if (!keep || size == 0) {
        Files.deleteIfExists(temp); // nothing to resume from: no empty part is left behind
      }
    }
  }

  /** Drops the bytes: the next attempt starts over. */
  public void delete() throws IOException {
    channel.close();
    Files.deleteIfExists(temp);
  }
}
