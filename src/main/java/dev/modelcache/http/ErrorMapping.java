package dev.modelcache.http;

import ai.djl.engine.EngineException;
import ai.djl.translate.TranslateException;
import dev.modelcache.inference.InferenceFailedException;
import dev.modelcache.inference.InferenceTimeoutException;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelNotReadyException;
import dev.modelcache.inference.QueueFullException;
import dev.modelcache.inference.TooManyItemsException;
import dev.modelcache.inference.UnknownModelException;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The one place where exceptions become HTTP statuses and {@code {"error": "..."}} bodies (the
 * statuses of {@code docs/api.md}: 400, 401, 404, 413, 415, 503 with Retry-After, 504; a 500 is a
 * bug or an engine failure, logged at ERROR once with its stack trace).
 *
 * <pre>{@code
 * ErrorMapping errors = new ErrorMapping(maxBodyBytes);
 * errors.register(config.routes);
 * ErrorMapping.Reply reply = errors.reply(exception, "POST", "/inference"); // without HTTP
 * }</pre>
 */
final class ErrorMapping {
  private static final Logger log = LoggerFactory.getLogger(ErrorMapping.class);
  static final String RETRY_AFTER_SECONDS = "5";
  static final String QUEUE_FULL_RETRY_AFTER_SECONDS = "1";
  static final String ROUTES =
      "/health, /health/live, /health/ready, /models, /models/{name}, /inference,"
          + " /inference/{model}, /metrics, /v2, /v2/health/live, /v2/health/ready,"
          + " /v2/models/{model}[/versions/{version}], .../ready, .../infer, /v1/embeddings,"
          + " /v1/models, /v1/models/{model}";

  /**
   * The types registered with Javalin, each named as before the split (Javalin looks a handler up
   * by the exception's class); all of them go to {@link #reply}, which tells them apart.
   */
  private static final List<Class<? extends Exception>> HANDLED =
      List.of(
          InvalidInputException.class,
          UnknownModelException.class,
          ModelNotReadyException.class,
          QueueFullException.class,
          InferenceTimeoutException.class,
          TooManyItemsException.class,
          InferenceFailedException.class,
          HttpError.class,
          HttpResponseException.class,
          Exception.class);

  private final long maxBodyBytes;

  ErrorMapping(long maxBodyBytes) {
    this.maxBodyBytes = maxBodyBytes;
  }

  /** An answer: its status, the {@code error} message and any headers. */
  record Reply(int status, String message, Map<String, String> headers) {
    Reply(int status, String message) {
      this(status, message, Map.of());
    }

    Reply {
      message = message == null ? "HTTP " + status : message;
      headers = Map.copyOf(headers);
    }
  }

  void register(RoutesConfig routes) {
    for (Class<? extends Exception> type : HANDLED) {
      routes.exception(type, this::handle);
    }
  }

  private void handle(Exception e, Context ctx) {
    Reply reply = reply(e, ctx.method().toString(), ctx.path());
    if (OpenAiErrors.covers(ctx.path())) {
      OpenAiErrors.write(ctx, reply, e); // OpenAI's error shape, for its SDKs
    } else {
      write(ctx, reply);
    }
  }

  /** Writes {@code reply} as the answer: its status, headers and {@code {"error": ...}}. */
  static void write(Context ctx, Reply reply) {
    reply.headers().forEach(ctx::header);
    ctx.status(reply.status()).json(Map.of("error", reply.message()));
  }

  /**
   * What {@code e}, thrown while {@code method path} was handled, answers; logs it when it is a
   * 500.
   */
  Reply reply(Throwable e, String method, String path) {
    if (e instanceof InvalidInputException) {
      return new Reply(400, messageOf(e, 400));
    } else if (e instanceof UnknownModelException) {
      return new Reply(404, messageOf(e, 404));
    } else if (e instanceof ModelNotReadyException) {
      return new Reply(503, messageOf(e, 503), Map.of("Retry-After", RETRY_AFTER_SECONDS));
    } else if (e instanceof QueueFullException) {
      return new Reply(
          503, messageOf(e, 503), Map.of("Retry-After", QUEUE_FULL_RETRY_AFTER_SECONDS));
    } else if (e instanceof InferenceTimeoutException) {
      return new Reply(504, messageOf(e, 504));
    } else if (e instanceof TooManyItemsException) {
      return new Reply(413, messageOf(e, 413));
    } else if (e instanceof HttpError error) {
      return httpError(error);
    } else if (e instanceof HttpResponseException javalin) {
      return new Reply(javalin.getStatus(), routing(javalin, method, path));
    } else if (e instanceof InferenceFailedException failed) {
      return inferenceFailed(failed, method, path);
    }
    return bug(e, method, path);
  }

  private static Reply httpError(HttpError e) {
    if (e.status() == 401) {
      return new Reply(401, messageOf(e, 401), Map.of("WWW-Authenticate", "Bearer"));
    }
    if (e.status() == 503) {
      return new Reply(
          503, messageOf(e, 503), Map.of("Retry-After", QUEUE_FULL_RETRY_AFTER_SECONDS));
    }
    return new Reply(e.status(), messageOf(e, e.status()));
  }

  private String routing(HttpResponseException e, String method, String path) {
    return switch (e.getStatus()) {
      case 404 -> "no route " + method + " " + path + " (routes: " + ROUTES + ")";
      case 405 -> "method " + method + " is not allowed on " + path;
      case 413 -> "request body is larger than server.max_body_bytes (" + maxBodyBytes + " bytes)";
      default -> messageOf(e, e.getStatus());
    };
  }

  /**
   * A forward pass that failed: by its cause, a bad input (400: our {@link InvalidInputException},
   * or a {@link TranslateException} caused by one or by an {@link IllegalArgumentException} from
   * input decoding), an out-of-memory (503 with Retry-After, logged), an engine failure ({@link
   * EngineException}) or anything else unexpected (500, logged at ERROR once with the stack trace).
   */
  private static Reply inferenceFailed(InferenceFailedException e, String method, String path) {
    Throwable cause = e.getCause();
    String on = method + " " + path + " (request " + MDC.get(RequestLog.MDC_REQUEST_ID) + ")";
    if (causedBy(cause, OutOfMemoryError.class)) {
      log.warn(
          "{} - out of memory on {}; answered 503: {}",
          e.model(),
          on,
          String.valueOf(first(cause, OutOfMemoryError.class)));
      return new Reply(
          503,
          e.model() + " - ran out of memory (" + e.detail() + "); retry later or with fewer inputs",
          Map.of("Retry-After", RETRY_AFTER_SECONDS));
    }
    if (causedBy(cause, EngineException.class)) {
      log.error("{} - engine failure on {}; answered 500", e.model(), on, e);
      return new Reply(
          500,
          e.model()
              + " - the inference engine failed: "
              + e.detail()
              + " (an engine failure, not a fault of the request: the log has its stack trace"
              + " under request "
              + MDC.get(RequestLog.MDC_REQUEST_ID)
              + ")");
    }
    if (cause instanceof TranslateException
        && (causedBy(cause, InvalidInputException.class)
            || causedBy(cause, IllegalArgumentException.class))) {
      return new Reply(400, e.model() + " could not run on these inputs: " + e.detail());
    }
    log.error(
        "{} - inference failed on {}: a bug in modelcache or an engine failure; answered 500",
        e.model(),
        on,
        e);
    return new Reply(
        500,
        e.model()
            + " - inference failed: "
            + e.detail()
            + " (a bug in modelcache or an engine failure: please report it with the log line of"
            + " request "
            + MDC.get(RequestLog.MDC_REQUEST_ID)
            + ")");
  }

  private static boolean causedBy(@Nullable Throwable e, Class<? extends Throwable> type) {
    return first(e, type) != null;
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

  /** {@code e}'s message; these exceptions are built with one, else "HTTP {@code status}". */
  private static String messageOf(Throwable e, int status) {
    String message = e.getMessage();
    return message == null ? "HTTP " + status : message;
  }

  private static Reply bug(Throwable e, String method, String path) {
    log.error("{} {} - internal error", method, path, e);
    return new Reply(
        500,
        "internal error: "
            + e.getClass().getSimpleName()
            + ": "
            + e.getMessage()
            + " (a bug in modelcache: please report it with the log line of request "
            + MDC.get(RequestLog.MDC_REQUEST_ID)
            + ")");
  }
}
