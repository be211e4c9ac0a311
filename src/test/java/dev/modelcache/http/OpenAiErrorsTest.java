package dev.modelcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.LogCapture;
import dev.modelcache.inference.InferenceTimeoutException;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelNotReadyException;
import dev.modelcache.inference.QueueFullException;
import dev.modelcache.inference.TooManyItemsException;
import dev.modelcache.inference.UnknownModelException;
import org.junit.jupiter.api.Test;

class OpenAiErrorsTest {
  private final ErrorMapping errors = new ErrorMapping(1000);

  /** The OpenAI-shaped error {@code e} answers on POST /v1/embeddings, and its status. */
  private JsonNode error(Throwable e, int status) {
    ErrorMapping.Reply reply = errors.reply(e, "POST", "/v1/embeddings");
    assertThat(reply.status()).isEqualTo(status);
    JsonNode body = OpenAiErrors.body(reply, e);
    assertThat(body.size()).isEqualTo(1);
    assertThat(body.get("error").get("message").asText()).isEqualTo(reply.message());
    return body.get("error");
  }

  private static String text(JsonNode node) {
    return node.isNull() ? null : node.asText();
  }

  private void assertShape(Throwable e, int status, String type, String param, String code) {
    JsonNode error = error(e, status);
    assertThat(error.get("type").asText()).as(e.toString()).isEqualTo(type);
    assertThat(text(error.get("param"))).as(e.toString()).isEqualTo(param);
    assertThat(text(error.get("code"))).as(e.toString()).isEqualTo(code);
  }

  @Test
  void eachFailureGetsOpenAisTypeParamAndCode() {
    assertShape(
        new UnknownModelException("model 'x' is not configured"),
        404,
        "invalid_request_error",
        "model",
        "model_not_found");
    assertShape(new InvalidInputException("bad"), 400, "invalid_request_error", "input", null);
    assertShape(
        new HttpError(400, "request body is not valid JSON"),
        400,
        "invalid_request_error",
        null,
        null);
    assertShape(
        new HttpError(401, "the bearer token is wrong"),
        401,
        "invalid_request_error",
        null,
        "invalid_api_key");
    assertShape(
        new HttpError(415, "Content-Type is 'text/plain'"),
        415,
        "invalid_request_error",
        null,
        "unsupported_media_type");
    assertShape(
        new TooManyItemsException("too many"),
        413,
        "invalid_request_error",
        null,
        "request_too_large");
    assertShape(
        new ModelNotReadyException("m is LOADING"), 503, "server_error", null, "model_not_ready");
    assertShape(new QueueFullException("m - queue full"), 503, "server_error", null, "queue_full");
    assertShape(
        new HttpError(503, "over the memory budget"), 503, "server_error", null, "overloaded");
    assertShape(
        new InferenceTimeoutException("m - no answer"), 504, "server_error", null, "timeout");
  }

  @Test
  void aBugIsAServerErrorWithNoCode() {
    try (LogCapture log = new LogCapture(ErrorMapping.class)) {
      assertShape(new IllegalStateException("oops"), 500, "server_error", null, null);
      assertThat(log.lines()).containsExactly("ERROR POST /v1/embeddings - internal error");
    }
  }

  @Test
  void theV1RoutesAreCoveredAndNoOthers() {
    assertThat(OpenAiErrors.covers("/v1/embeddings")).isTrue();
    assertThat(OpenAiErrors.covers("/v1/chat/completions")).isTrue();
    assertThat(OpenAiErrors.covers("/v1")).isTrue();
    assertThat(OpenAiErrors.covers("/v2/models/iris/infer")).isFalse();
    assertThat(OpenAiErrors.covers("/v10/x")).isFalse();
    assertThat(OpenAiErrors.covers("/inference")).isFalse();
  }

  @Test
  void aBadParamNamesItsField() {
    JsonNode body = OpenAiErrors.body("dimensions is 0; ...", 400, "dimensions", "invalid_value");
    assertThat(body.toString())
        .isEqualTo(
            "{\"error\":{\"message\":\"dimensions is 0; ...\",\"type\":\"invalid_request_error\","
                + "\"param\":\"dimensions\",\"code\":\"invalid_value\"}}");
  }
}
