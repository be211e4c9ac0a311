package dev.modelcache.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What the store asks the operating system about the cache volume: free space and whether it may
 * write. Tests pass a full or a read-only one (tests run as root, which no {@code chmod} stops).
 */
public interface Volume {
  /** Usable bytes on the filesystem holding {@code dir}, an existing directory. */
  long usableBytes(Path dir) throws IOException;

  /** Whether modelcache may create files under {@code dir}, an existing directory. */
  boolean writable(Path dir);

  /** The real filesystem. */
  static Volume system() {
    return SystemVolume.INSTANCE;
  }
}
