package dev.modelcache.store;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The files of one model as installed on the volume.
 *
 * @param id the snapshot id: the commit for Hub models; for local (and S3) models derived from the
 *     listing (see {@link CacheStore#snapshotId})
 * @param dir the folder a model loader reads: {@code snapshots/{id}}
 */
public record InstalledSnapshot(String id, Path dir, List<InstalledFile> files) {
  public InstalledSnapshot {
    files = List.copyOf(files);
  }

  /**
   * The cache root: a snapshot folder is always {@code <root>/<kind>/<repository>/snapshots/<id>}.
   */
  public Path root() {
    Path root = dir;
    for (int up = 0; up < 4; up++) {
      root = Objects.requireNonNull(root.getParent(), () -> dir + " is no snapshot folder");
    }
    return root;
  }

  public long totalBytes() {
    return files.stream().mapToLong(InstalledFile::size).sum();
  }

  /**
   * One file: its path in the snapshot, size, SHA-256 and the blob holding the bytes.
   *
   * @param stamp the blob's stamp when its bytes were last known to match {@code sha256}, or null
   *     when they were never checked by this install (the next verification re-hashes it)
   */
  public record InstalledFile(
      String path, long size, String sha256, Path blob, @Nullable FileStamp stamp) {
    public InstalledFile(String path, long size, String sha256, Path blob) {
      this(path, size, sha256, blob, null);
    }

    public InstalledFile withStamp(FileStamp stamp) {
      return new InstalledFile(path, size, sha256, blob, stamp);
    }
  }
}
