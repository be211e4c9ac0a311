package dev.modelcache.source;

import java.time.Duration;

/**
 * The source failed in a way that may pass (HTTP 429, 5xx, a connection cut): worth retrying after
 * a pause.
 *
 * @see #retryAfter()
 */
public final class RetryableSourceException extends SourceException {
  private static final long serialVersionUID = 1L;
  private final transient Duration retryAfter;

  public RetryableSourceException(String message, Duration retryAfter) {
    super(message);
    this.retryAfter = retryAfter;
  }

  /** How long the server asked to wait (its {@code Retry-After}), or null when it did not say. */
  public Duration retryAfter() {
    return retryAfter;
  }
}
