package dev.modelcache.store;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * Writing to the cache volume failed (disk full, read-only, permissions): not worth retrying the
 * download.
 */
public final class StoreException extends IOException {
  private static final long serialVersionUID = 1L;

  public StoreException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
