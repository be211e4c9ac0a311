package dev.modelcache.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.UUID;

/**
 * How the store publishes anything: bytes under a temporary name beside the target, fsynced, then
 * renamed atomically over it, and the folder fsynced; a reader sees the old file or the new one,
 * never part of one.
 */
final class AtomicFiles {
  private AtomicFiles() {}

  /** Replaces {@code target} with a file holding {@code content} (UTF-8). */
  static void write(Path target, String content) throws IOException {
    Path temp =
        target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try (FileChannel channel =
        FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      channel.write(ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
      channel.force(true);
    }
    move(temp, target);
    fsyncDirectory(folderOf(target));
  }

  /** The folder holding {@code file}: whatever the store writes is in a folder of the cache. */
  static Path folderOf(Path file) {
    return Objects.requireNonNull(file.getParent(), () -> file + " is in no folder");
  }

  /** Renames {@code from} over {@code to} atomically; fails when the two are on two filesystems. */
  static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException(
          "cannot rename "
              + from
              + " to "
              + to
              + " atomically: the cache's .modelcache/tmp and"
              + " its models must be on one filesystem",
          e);
    }
  }

  /** Makes a rename in {@code dir} durable, where the filesystem allows it. */
  static void fsyncDirectory(Path dir) {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some filesystems refuse fsync on a directory; the rename is still atomic there.
    }
  }
}
