package dev.modelcache.inference;

/** No model of that name is configured. */
public final class UnknownModelException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public UnknownModelException(String message) {
    super(message);
  }

  public UnknownModelException(String message, Throwable cause) {
    super(message, cause);
  }
}
