package dev.modelcache.store;

import dev.modelcache.metrics.ByteSize;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import org.jspecify.annotations.Nullable;

/**
 * What the cache's volume allows: writing at all, and how many bytes; asked of the {@link Volume}
 * at the nearest folder of the root that exists, without writing anything.
 */
final class VolumeSpace {
  private final Path root;
  private final Volume volume;

  VolumeSpace(Path root, Volume volume) {
    this.root = root;
    this.volume = volume;
  }

  boolean writable() {
    Path existing = existingAncestor(root);
    return existing != null && volume.writable(existing);
  }

  long usableBytes() {
    Path existing = existingAncestor(root);
    try {
      return existing == null ? -1 : volume.usableBytes(existing);
    } catch (IOException e) {
      return -1;
    }
  }

  void checkSpace(long bytesNeeded) throws StoreException {
    Path existing = existingAncestor(root);
    if (bytesNeeded <= 0 || existing == null) {
      return;
    }
    long usable;
    try {
      usable = volume.usableBytes(existing);
    } catch (IOException e) {
      return;
    }
    if (usable < bytesNeeded) {
      throw new StoreException(
          "not enough space for the cache at "
              + root
              + ": "
              + bytesNeeded
              + " bytes ("
              + ByteSize.mib(bytesNeeded)
              + ") still to fetch, "
              + usable
              + " bytes ("
              + ByteSize.mib(usable)
              + ") usable on its volume; free space (modelcache gc --delete) or grow the volume",
          null);
    }
  }

  /** Fails naming {@code what} when the cache is read-only. */
  void requireWritable(String what) throws StoreException {
    if (!writable()) {
      throw new StoreException("the cache at " + root + " is read-only: cannot " + what, null);
    }
  }

  /** See {@link CacheStore#bytesUnder}. */
  static long bytesUnder(Path path) {
    long[] total = {0};
    try {
      Files.walkFileTree(
          path,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
              if (attrs.isRegularFile()) {
                total[0] += attrs.size();
              }
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      // the visitor swallows per-file failures; what was counted stands
    }
    return total[0];
  }

  private static @Nullable Path existingAncestor(Path dir) {
    Path existing = dir;
    while (existing != null && !Files.isDirectory(existing)) {
      existing = existing.getParent();
    }
    return existing;
  }
}
