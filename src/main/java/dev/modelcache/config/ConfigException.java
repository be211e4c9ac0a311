package dev.modelcache.config;

import org.jspecify.annotations.Nullable;

/** A configuration that cannot be used; the message names the file, the key and what to change. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The key at fault ({@code models[1].engine}), or null when the error is not about one key. */
  private final @Nullable String key;

  public ConfigException(String message) {
    this(message, (String) null);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
    this.key = null;
  }

  /** Never null: every constructor takes the message (null would read as empty). */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message == null ? "" : message;
  }

  ConfigException(String message, @Nullable String key) {
    super(message);
    this.key = key;
  }

  /**
   * The key at fault, as the message writes it ({@code cache.verify}, {@code models[1].engine},
   * {@code models[0].sha256.model.pt}), or null; {@code modelcache config check} finds its line.
   */
  public @Nullable String key() {
    return key;
  }
}
