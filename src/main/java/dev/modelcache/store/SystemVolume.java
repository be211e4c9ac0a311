package dev.modelcache.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The real filesystem, asked without writing anything. */
final class SystemVolume implements Volume {
  static final SystemVolume INSTANCE = new SystemVolume();

  private SystemVolume() {}

  @Override
  public long usableBytes(Path dir) throws IOException {
    return Files.getFileStore(dir).getUsableSpace();
  }

  /**
   * {@code access(2)} with {@code W_OK}: it answers no on a read-only mount even to root, and
   * unlike a probe file it leaves the directory's mtime alone.
   */
  @Override
  public boolean writable(Path dir) {
    return Files.isWritable(dir);
  }
}
