package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.ObjectHashes;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A downloaded file against the CRC32C and MD5 its store reports for the whole object ({@link
 * ObjectHashes}): one read of the file on the volume, after all its ranges are in, before its
 * SHA-256 is checked. A mismatch is damage in transit, so the bytes are dropped and fetched again;
 * it never vouches for the file.
 */
final class TransportCheck {
  private TransportCheck() {}

  /** The bytes do not have the object's CRC32C or MD5: worth fetching again. */
  static final class Mismatch extends SourceException {
    private static final long serialVersionUID = 1L;

    Mismatch(String message) {
      super(message);
    }
  }

  /**
   * Checks {@code bytes} (the downloaded copy of {@code file}) against {@code file.hashes()} when
   * it has any.
   *
   * @throws Mismatch naming the file, each hash that differs and both of its values (hex)
   */
  static void verify(ModelConfig model, SourceFile file, Path bytes) throws IOException {
    ObjectHashes hashes = file.hashes();
    if (hashes == null) {
      return;
    }
    CRC32C crc = new CRC32C();
    MessageDigest md5;
    try {
      md5 = MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has MD5", e);
    }
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(bytes)) {
      for (int n; (n = in.read(buffer)) > 0; ) {
        crc.update(buffer, 0, n);
        if (hashes.md5() != null) {
          md5.update(buffer, 0, n);
        }
      }
    }
    List<String> wrong = new ArrayList<>();
    String crc32c = hashes.crc32c();
    if (crc32c != null) {
      byte[] actual = ByteBuffer.allocate(4).putInt((int) crc.getValue()).array();
      compare("CRC32C", hashes.origin(), crc32c, actual, wrong);
    }
    String expectedMd5 = hashes.md5();
    if (expectedMd5 != null) {
      compare("MD5", hashes.origin(), expectedMd5, md5.digest(), wrong);
    }
    if (!wrong.isEmpty()) {
      throw new Mismatch(
          model.name()
              + " - "
              + file.path()
              + ": "
              + String.join(", ", wrong)
              + "; damaged in transit: the bytes were dropped");
    }
  }

  private static void compare(
      String name, String origin, String expected, byte[] actual, List<String> wrong) {
    String actualBase64 = Base64.getEncoder().encodeToString(actual);
    if (!actualBase64.equals(expected.strip())) {
      wrong.add(
          name
              + " mismatch: "
              + origin
              + " says "
              + ObjectHashes.hex(expected)
              + " ("
              + expected.strip()
              + "), the bytes have "
              + java.util.HexFormat.of().formatHex(actual)
              + " ("
              + actualBase64
              + ")");
    }
  }
}
