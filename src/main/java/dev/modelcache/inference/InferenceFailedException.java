package dev.modelcache.inference;

import java.util.Objects;

/**
 * A forward pass of {@link #model()} failed with an exception that is not one of ours (a DJL {@code
 * TranslateException} or {@code EngineException}, an {@code Error}, a bug): the cause says what
 * happened, and the HTTP layer decides from it whose fault that was.
 */
public final class InferenceFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final String model;

  public InferenceFailedException(String model, Throwable cause) {
    super(model + " - inference failed: " + ModelRegistry.firstLine(cause), cause);
    this.model = model;
  }

  public String model() {
    return model;
  }

  /** The first line of the innermost cause's message (DJL's carry the engine's whole trace). */
  public String detail() {
    return ModelRegistry.firstLine(Objects.requireNonNull(getCause(), "made with a cause"));
  }
}
