package dev.modelcache.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * What a blob looked like on disk when its bytes were last known to match their SHA-256: size,
 * modification time and inode. {@code cache.verify: fast} compares stamps instead of reading bytes;
 * a file rewritten in place keeps its inode but gets a new mtime, a file replaced by a rename gets
 * a new inode. A change that keeps all three (a bit flipped by the disk itself, or a rewrite within
 * the filesystem's timestamp tick with the mtime put back) is only found by {@code verify: full}.
 *
 * @param mtimeNanos the modification time in nanoseconds since the epoch, as precise as the
 *     filesystem keeps it
 * @param inode the inode number, or {@link #NO_INODE} where the filesystem has no {@code unix}
 *     attribute view
 */
public record FileStamp(long size, long mtimeNanos, long inode) {
  public static final long NO_INODE = -1;

  /** Reads the stamp of {@code file} with one {@code stat}; never reads its bytes. */
  public static FileStamp of(Path file) throws IOException {
    if (file.getFileSystem().supportedFileAttributeViews().contains("unix")) {
      try {
        Map<String, Object> unix = Files.readAttributes(file, "unix:size,lastModifiedTime,ino");
        return new FileStamp(
            (Long) Objects.requireNonNull(unix.get("size"), "size"),
            ((FileTime) Objects.requireNonNull(unix.get("lastModifiedTime"), "lastModifiedTime"))
                .to(TimeUnit.NANOSECONDS),
            ((Number) Objects.requireNonNull(unix.get("ino"), "ino")).longValue());
      } catch (UnsupportedOperationException | IllegalArgumentException e) {
        // a provider that lists "unix" but lacks one of the attributes: fall back to basic
      }
    }
    BasicFileAttributes basic = Files.readAttributes(file, BasicFileAttributes.class);
    return new FileStamp(basic.size(), basic.lastModifiedTime().to(TimeUnit.NANOSECONDS), NO_INODE);
  }

  /**
   * Whether {@code current} shows the same file unchanged; an inode is compared only when both
   * stamps have one.
   */
  public boolean matches(FileStamp current) {
    return size == current.size
        && mtimeNanos == current.mtimeNanos
        && (inode == NO_INODE || current.inode == NO_INODE || inode == current.inode);
  }
}
