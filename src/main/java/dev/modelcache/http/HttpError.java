package dev.modelcache.http;

/**
 * A request the HTTP layer itself refuses (bad JSON, wrong content type, missing token), with its
 * status.
 */
final class HttpError extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  HttpError(int status, String message) {
    super(message);
    this.status = status;
  }

  HttpError(int status, String message, Throwable cause) {
    super(message, cause);
    this.status = status;
  }

  int status() {
    return status;
  }
}
