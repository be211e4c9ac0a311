package dev.modelcache.inference;

/** No worker of the model became free in time; the client should retry later. */
public final class ModelBusyException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ModelBusyException(String message) {
    super(message);
  }

  public ModelBusyException(String message, Throwable cause) {
    super(message, cause);
  }
}
