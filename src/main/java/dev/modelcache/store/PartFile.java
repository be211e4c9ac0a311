package dev.modelcache.store;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.function.LongConsumer;

/**
 * A download in progress: bytes appended in order to a temporary file while their SHA-256 (and, for
 * files the HuggingFace Hub tracks in git, their git blob SHA-1) is computed, so that a transfer
 * cut part-way resumes from {@link #size()} without reading back what is already on disk.
 */
public final class PartFile implements ByteSink, AutoCloseable {
  private final Path temp;
  private final FileChannel channel;
  private final MessageDigest sha256 = CacheStore.sha256();
  private final MessageDigest gitSha1;
  private final byte[] buffer = new byte[1 << 16];
  private long size;
  private boolean finished;

  /**
   * @param expectedSize when not negative, also computes the git blob SHA-1 of a file of this size
   */
  PartFile(Path temp, long expectedSize) throws IOException {
    this.temp = temp;
    this.channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    if (expectedSize >= 0) {
      gitSha1 = CacheStore.sha1();
      gitSha1.update(("blob " + expectedSize + "\0").getBytes(StandardCharsets.US_ASCII));
    } else {
      gitSha1 = null;
    }
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
    HexFormat hex = HexFormat.of();
    return new StagedFile(
        temp,
        size,
        hex.formatHex(sha256.digest()),
        gitSha1 == null ? null : hex.formatHex(gitSha1.digest()));
  }

  /** Deletes the temporary file unless {@link #finish()} handed it over. */
  @Override
  public void close() throws IOException {
    if (!finished) {
      channel.close();
      Files.deleteIfExists(temp);
    }
  }
}
