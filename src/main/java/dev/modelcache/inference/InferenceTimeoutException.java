package dev.modelcache.inference;

/** A request was not answered within the model's {@code timeout_ms} (504). */
public final class InferenceTimeoutException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InferenceTimeoutException(String message) {
    super(message);
  }
}
