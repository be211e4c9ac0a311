package dev.modelcache.source;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/** The source cannot give what was asked; the message says what and what to check. */
public class SourceException extends IOException {
  private static final long serialVersionUID = 1L;

  public SourceException(String message) {
    super(message);
  }

  public SourceException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
