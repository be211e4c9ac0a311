package dev.modelcache.inference;

/** The model exists but is not READY yet (or FAILED); the message carries its state. */
public final class ModelNotReadyException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ModelNotReadyException(String message) {
    super(message);
  }

  public ModelNotReadyException(String message, Throwable cause) {
    super(message, cause);
  }
}
