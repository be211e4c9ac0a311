package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;

/**
 * Where a model's files come from: lists what exists upstream and opens the bytes of each file.
 * Whoever makes a source closes it, once nothing reads from it any more.
 */
public interface ModelSource extends AutoCloseable {

  /** Lists the files of {@code model} upstream, after its include/exclude patterns. */
  Snapshot resolve(ModelConfig model) throws IOException;

  /**
   * What {@code model}'s revision (a branch, a tag, an S3 prefix) names upstream now, as cheaply as
   * the source can tell: a move upstream changes it. The Hub answers the commit; by default it is
   * the resolved revision, else a digest of the listing (each file's path, size, digest, ETag and
   * version id).
   */
  default String upstreamRevision(ModelConfig model) throws IOException {
    Snapshot snapshot = resolve(model);
    if (snapshot.revision() != null) {
      return snapshot.revision();
    }
    StringBuilder listing = new StringBuilder();
    for (SourceFile file : snapshot.files()) {
      listing.append(
          String.join(
              " ",
              file.path(),
              Long.toString(file.size()),
              String.valueOf(file.sha256()),
              String.valueOf(file.objectEtag()),
              String.valueOf(file.versionId()),
              "\n"));
    }
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(listing.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(digest).substring(0, 40);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /**
   * Opens bytes {@code [offset, end)} of {@code file} of {@code snapshot} (as {@link #resolve}
   * returned it); {@code end} is at most the file's size. The stream may end early (a cut); the
   * caller resumes from where it stopped.
   */
  InputStream open(ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException;

  /**
   * Whether {@code file} (as {@link #resolve} listed it) may be fetched as several byte ranges at
   * once: true unless the source knows its server ignores {@code Range}.
   */
  default boolean ranges(ModelConfig model, SourceFile file) {
    return true;
  }

  /** Releases what the source holds open (clients, connections, threads); quiet, never throws. */
  @Override
  void close();
}
