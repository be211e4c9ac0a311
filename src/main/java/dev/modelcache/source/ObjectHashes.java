package dev.modelcache.source;

import java.util.Base64;
import java.util.HexFormat;
import org.jspecify.annotations.Nullable;

/**
 * The CRC32C and MD5 a store reports for a whole object (Cloud Storage's {@code crc32c} and {@code
 * md5Hash} metadata, or its {@code x-goog-hash} header), base64 of the big-endian bytes as the
 * store writes them. They check transport only: a download that does not match them is dropped and
 * fetched again, never installed; they never vouch for a file's SHA-256.
 *
 * @param crc32c base64 of the 4-byte CRC32C, or null
 * @param md5 base64 of the 16-byte MD5, or null (a composite object has none)
 * @param origin where they come from, for messages ("the object's metadata")
 */
public record ObjectHashes(@Nullable String crc32c, @Nullable String md5, String origin) {

  /** Null when neither hash is given. */
  public static @Nullable ObjectHashes of(
      @Nullable String crc32c, @Nullable String md5, String origin) {
    crc32c = crc32c == null || crc32c.isBlank() ? null : crc32c.strip();
    md5 = md5 == null || md5.isBlank() ? null : md5.strip();
    return crc32c == null && md5 == null ? null : new ObjectHashes(crc32c, md5, origin);
  }

  /**
   * The hashes of an {@code x-goog-hash} header ({@code crc32c=...,md5=...}; the header may also
   * come several times, joined by commas), or null when it names neither.
   */
  public static @Nullable ObjectHashes ofGoogHash(@Nullable String header) {
    if (header == null) {
      return null;
    }
    String crc32c = null;
    String md5 = null;
    for (String part : header.split(",", -1)) {
      String item = part.strip();
      if (item.startsWith("crc32c=")) {
        crc32c = item.substring("crc32c=".length());
      } else if (item.startsWith("md5=")) {
        md5 = item.substring("md5=".length());
      }
    }
    return of(crc32c, md5, "the object's x-goog-hash header");
  }

  /** {@code base64} as hex, for messages, or the text quoted when it is not base64. */
  public static String hex(String base64) {
    try {
      return HexFormat.of().formatHex(Base64.getDecoder().decode(base64.strip()));
    } catch (IllegalArgumentException e) {
      return "'" + base64.strip() + "' (not base64)";
    }
  }
}
