package dev.modelcache.source;

import org.jspecify.annotations.Nullable;

/**
 * One file of a snapshot.
 *
 * @param path relative to the model root, '/'-separated, never escaping it
 * @param size bytes, as the source reports them
 * @param sha256 the SHA-256 the source vouches for (the Hub's LFS etag, an S3 object's checksum),
 *     or null
 * @param gitSha1 the git blob SHA-1 the source vouches for (the Hub's etag of a plain git file), or
 *     null
 * @param sha256Origin where {@code sha256} comes from, for messages ("the object's
 *     x-amz-checksum-sha256"), or null for the source's own digest
 * @param objectEtag the S3 object's ETag (quotes removed), or null
 * @param versionId the S3 object's version id (a GCS object's generation), or null when the bucket
 *     keeps no versions
 * @param hashes the object's CRC32C and MD5 as the store reports them (GCS), checked after the
 *     download as a transport check only; null when the store gives none
 */
public record SourceFile(
    String path,
    long size,
    @Nullable String sha256,
    @Nullable String gitSha1,
    @Nullable String sha256Origin,
    @Nullable String objectEtag,
    @Nullable String versionId,
    @Nullable ObjectHashes hashes) {

  public SourceFile(String path, long size, @Nullable String sha256, @Nullable String gitSha1) {
    this(path, size, sha256, gitSha1, null, null, null, null);
  }

  public SourceFile(
      String path,
      long size,
      @Nullable String sha256,
      @Nullable String gitSha1,
      @Nullable String sha256Origin,
      @Nullable String objectEtag,
      @Nullable String versionId) {
    this(path, size, sha256, gitSha1, sha256Origin, objectEtag, versionId, null);
  }

  /** The Hub's etag: what the HuggingFace cache names the blob. */
  public @Nullable String etag() {
    return sha256 != null ? sha256 : gitSha1;
  }

  /** Whether anything upstream vouches for the bytes (else they are trusted on first use). */
  public boolean vouched() {
    return sha256 != null || gitSha1 != null;
  }

  /**
   * Whether a listed path could leave the model's folder (absolute, {@code ..}, {@code .} or empty
   * segments, backslashes, control characters): such a listing is refused before any download.
   */
  static boolean escapes(String path) {
    boolean bad =
        path.isEmpty()
            || path.startsWith("/")
            || path.contains("\\")
            || path.chars().anyMatch(c -> c < 0x20);
    for (String segment : path.split("/", -1)) {
      bad |= segment.isEmpty() || segment.equals(".") || segment.equals("..");
    }
    return bad;
  }
}
