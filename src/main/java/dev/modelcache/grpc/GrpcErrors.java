package dev.modelcache.grpc;

import ai.djl.engine.EngineException;
import ai.djl.translate.TranslateException;
import dev.modelcache.inference.InferenceFailedException;
import dev.modelcache.inference.InferenceTimeoutException;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelNotReadyException;
import dev.modelcache.inference.QueueFullException;
import dev.modelcache.inference.TooManyItemsException;
import dev.modelcache.inference.UnknownModelException;
import io.grpc.Status;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where exceptions become gRPC statuses, the counterpart of the HTTP statuses of
 * {@code docs/api.md}: INVALID_ARGUMENT (400), NOT_FOUND (404), RESOURCE_EXHAUSTED (413),
 * UNAVAILABLE (503), DEADLINE_EXCEEDED (504), INTERNAL (500: a bug or an engine failure, logged at
 * ERROR once with its stack trace). UNAUTHENTICATED comes from {@link BearerInterceptor}.
 */
final class GrpcErrors {
  private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

  private GrpcErrors() {}

  /** The status that {@code e}, thrown while {@code method} ran, answers; logs it when INTERNAL. */
  static Status status(Throwable e, String method) {
    if (e instanceof InvalidInputException) {
      return Status.INVALID_ARGUMENT.withDescription(e.getMessage());
    } else if (e instanceof UnknownModelException) {
      return Status.NOT_FOUND.withDescription(e.getMessage());
    } else if (e instanceof ModelNotReadyException || e instanceof QueueFullException) {
      return Status.UNAVAILABLE.withDescription(e.getMessage());
    } else if (e instanceof InferenceTimeoutException) {
      return Status.DEADLINE_EXCEEDED.withDescription(e.getMessage());
    } else if (e instanceof TooManyItemsException) {
      return Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage());
    } else if (e instanceof InferenceFailedException failed) {
      return inferenceFailed(failed, method);
    }
    log.error("{} - internal error", method, e);
    return Status.INTERNAL.withDescription(
        "internal error: "
            + e.getClass().getSimpleName()
            + ": "
            + e.getMessage()
            + " (a bug in modelcache: please report it with the log line of this "
            + method
            + ")");
  }

  /**
   * A forward pass that failed, by its cause: a bad input (INVALID_ARGUMENT), out of memory
   * (UNAVAILABLE, logged), an engine failure or anything else (INTERNAL, logged with the stack).
   */
  private static Status inferenceFailed(InferenceFailedException e, String method) {
    Throwable cause = e.getCause();
    if (first(cause, OutOfMemoryError.class) != null) {
      log.warn("{} - out of memory on {}; answered UNAVAILABLE", e.model(), method);
      return Status.UNAVAILABLE.withDescription(
          e.model()
              + " - ran out of memory ("
              + e.detail()
              + "); retry later or with fewer inputs");
    }
    if (first(cause, InterruptedException.class) != null) {
      return Status.UNAVAILABLE.withDescription(
          e.model() + " - stopped while it ran this request (the daemon is stopping); retry");
    }
    if (first(cause, EngineException.class) != null) {
      log.error("{} - engine failure on {}; answered INTERNAL", e.model(), method, e);
      return Status.INTERNAL.withDescription(
          e.model()
              + " - the inference engine failed: "
              + e.detail()
              + " (an engine failure, not a fault of the request: the log has its stack trace)");
    }
    if (cause instanceof TranslateException
        && (first(cause, InvalidInputException.class) != null
            || first(cause, IllegalArgumentException.class) != null)) {
      return Status.INVALID_ARGUMENT.withDescription(
          e.model() + " could not run on these inputs: " + e.detail());
    }
    log.error("{} - inference failed on {}; answered INTERNAL", e.model(), method, e);
    return Status.INTERNAL.withDescription(
        e.model()
            + " - inference failed: "
            + e.detail()
            + " (a bug in modelcache or an engine failure: the log has its stack trace)");
  }

  /** The first throwable of {@code type} in {@code e}'s cause chain, {@code e} included. */
  private static @Nullable Throwable first(@Nullable Throwable e, Class<? extends Throwable> type) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (type.isInstance(t)) {
        return t;
      }
    }
    return null;
  }
}
