package dev.modelcache.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The one place that makes digests: SHA-256 (how every file of the cache is named and verified) and
 * the git blob SHA-1 (how the HuggingFace Hub names its plain files), with their hex form.
 *
 * <pre>{@code
 * String sha256 = Digests.sha256Hex(path); // 64 lowercase hex digits
 * }</pre>
 */
public final class Digests {
  /** One direct read buffer per hashing thread (direct memory is slow to allocate). */
  private static final ThreadLocal<ByteBuffer> HASH_BUFFER =
      ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(1 << 18));

  private Digests() {}

  /** A new SHA-256 digest. */
  public static MessageDigest sha256() {
    return digest("SHA-256");
  }

  /**
   * A new git blob SHA-1 digest of a file of {@code size} bytes: primed with git's {@code "blob
   * <size>\0"} header, so that feeding it the file's bytes gives the id git gives the file.
   */
  static MessageDigest gitBlobSha1(long size) {
    MessageDigest sha1 = digest("SHA-1");
    sha1.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
    return sha1;
  }

  /**
   * Reads a file and returns its SHA-256 in hex. The bytes go from the kernel into a direct buffer
   * and are hashed from there (no copy into a heap array), a few percent faster than a stream;
   * measured with {@code bench/run.sh verify}.
   */
  public static String sha256Hex(Path file) throws IOException {
    MessageDigest digest = sha256();
    ByteBuffer buffer = HASH_BUFFER.get();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      while (channel.read(buffer.clear()) >= 0) {
        digest.update(buffer.flip());
      }
    }
    return hex(digest);
  }

  /** The SHA-256 in hex of {@code text} encoded in UTF-8. */
  public static String sha256Hex(String text) {
    return hex(sha256().digest(text.getBytes(StandardCharsets.UTF_8)));
  }

  /** Completes {@code digest} and returns it in lowercase hex. */
  static String hex(MessageDigest digest) {
    return hex(digest.digest());
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }

  private static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has " + algorithm, e);
    }
  }
}
