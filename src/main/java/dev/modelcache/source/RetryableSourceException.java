package dev.modelcache.source;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The source failed in a way that may pass (HTTP 429, 5xx, a connection cut): worth retrying after
 * a pause.
 *
 * @see #retryAfter()
 */
public final class RetryableSourceException extends SourceException {
  private static final long serialVersionUID = 1L;
  private final transient @Nullable Duration retryAfter;

  private final boolean noConnection;

  public RetryableSourceException(String message, @Nullable Duration retryAfter) {
    this(message, retryAfter, false);
  }

  /**
   * @param noConnection true when no connection could be made at all (connection refused, unknown
   *     host, no route): the source is down or unreachable from here, not merely slow
   */
  public RetryableSourceException(
      String message, @Nullable Duration retryAfter, boolean noConnection) {
    super(message);
    this.retryAfter = retryAfter;
    this.noConnection = noConnection;
  }

  /**
   * Whether a connection could not even be made (refused, unknown host, no route): a fetch that has
   * a verified cached revision falls back to it at once, as {@code huggingface_hub} does on a
   * connection error, instead of retrying.
   */
  public boolean noConnection() {
    return noConnection;
  }

  /** Whether {@code e} is a failure to connect at all (refused, unknown host, no route). */
  public static boolean isNoConnection(@Nullable Throwable e) {
    return e instanceof java.net.ConnectException
        || e instanceof java.net.UnknownHostException
        || e instanceof java.net.NoRouteToHostException;
  }

  /** How long the server asked to wait (its {@code Retry-After}), or null when it did not say. */
  public @Nullable Duration retryAfter() {
    return retryAfter;
  }
}
