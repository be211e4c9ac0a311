package dev.modelcache.http;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelNotReadyException;
import dev.modelcache.inference.QueueFullException;
import dev.modelcache.inference.UnknownModelException;
import io.javalin.http.Context;
import org.jspecify.annotations.Nullable;

/**
 * The errors of the OpenAI-compatible routes ({@code /v1/...}) in OpenAI's shape, {@code {"error":
 * {"message", "type", "param", "code"}}}, so that the OpenAI SDKs raise their usual exceptions
 * ({@code BadRequestError}, {@code AuthenticationError}, {@code NotFoundError}, ...) and retry a
 * 503 after its Retry-After. The status, message and headers are {@link ErrorMapping}'s, as on
 * every other route.
 *
 * <pre>{@code
 * throw new OpenAiErrors.BadParam("dimensions is 0; send a positive integer", "dimensions",
 *     "invalid_value");
 * }</pre>
 */
final class OpenAiErrors {
  private static final String PREFIX = "/v1/";

  private OpenAiErrors() {}

  /** A request field the OpenAI API would refuse: 400 naming it in {@code param}. */
  static final class BadParam extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String param;
    private final String code;

    /**
     * @param param the field, as OpenAI names it ({@code input}, {@code dimensions}, ...)
     * @param code OpenAI's machine-readable code ({@code invalid_value}, ...)
     */
    BadParam(String message, String param, String code) {
      super(message);
      this.param = param;
      this.code = code;
    }

    String param() {
      return param;
    }

    String code() {
      return code;
    }
  }

  /** Whether {@code path} is one of the OpenAI-compatible routes (or under their prefix). */
  static boolean covers(String path) {
    return path.equals("/v1") || path.startsWith(PREFIX);
  }

  /** Writes a {@link BadParam} as a 400. */
  static void badParam(BadParam e, Context ctx) {
    ctx.status(400).json(body(String.valueOf(e.getMessage()), 400, e.param(), e.code()));
  }

  /** Writes {@code reply}, which {@link ErrorMapping} made of {@code e}, in OpenAI's shape. */
  static void write(Context ctx, ErrorMapping.Reply reply, Throwable e) {
    reply.headers().forEach(ctx::header);
    ctx.status(reply.status()).json(body(reply, e));
  }

  /** The body of {@code reply}, which {@link ErrorMapping} made of {@code e}. */
  static ObjectNode body(ErrorMapping.Reply reply, Throwable e) {
    String param =
        e instanceof UnknownModelException
            ? "model"
            : reply.status() == 400 && e instanceof InvalidInputException ? "input" : null;
    return body(reply.message(), reply.status(), param, code(reply, e));
  }

  static ObjectNode body(
      String message, int status, @Nullable String param, @Nullable String code) {
    ObjectNode body = JsonNodeFactory.instance.objectNode();
    body.putObject("error")
        .put("message", message)
        .put("type", status >= 500 ? "server_error" : "invalid_request_error")
        .put("param", param)
        .put("code", code);
    return body;
  }

  /** OpenAI's code where it has one for the case, else ours in its style; null for the rest. */
  private static @Nullable String code(ErrorMapping.Reply reply, Throwable e) {
    if (e instanceof UnknownModelException) {
      return "model_not_found";
    } else if (e instanceof ModelNotReadyException) {
      return "model_not_ready";
    } else if (e instanceof QueueFullException) {
      return "queue_full";
    }
    return switch (reply.status()) {
      case 401 -> "invalid_api_key";
      case 404 -> "unknown_url";
      case 405 -> "method_not_allowed";
      case 413 -> "request_too_large";
      case 415 -> "unsupported_media_type";
      case 503 -> "overloaded";
      case 504 -> "timeout";
      default -> null;
    };
  }
}
