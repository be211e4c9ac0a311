package dev.modelcache.source;

/**
 * One file of a snapshot.
 *
 * @param path relative to the model root, '/'-separated, never escaping it
 * @param size bytes, as the source reports them
 * @param sha256 the SHA-256 the source vouches for (the Hub's LFS etag), or null
 * @param gitSha1 the git blob SHA-1 the source vouches for (the Hub's etag of a plain git file), or
 *     null
 */
public record SourceFile(String path, long size, String sha256, String gitSha1) {

  /** The Hub's etag: what the HuggingFace cache names the blob. */
  public String etag() {
    return sha256 != null ? sha256 : gitSha1;
  }
}
