package dev.modelcache.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.http.OpenAiErrors.BadParam;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class EmbeddingRequestTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static EmbeddingRequest parse(String body) throws Exception {
    return EmbeddingRequest.parse(JSON.readTree(body));
  }

  /** The OpenAI-shaped body the refusal of {@code body} answers. */
  private static JsonNode refusal(String body) throws Exception {
    BadParam e =
        catchThrowableOfType(BadParam.class, () -> EmbeddingRequest.parse(JSON.readTree(body)));
    assertThat(e).as(body).isNotNull();
    return OpenAiErrors.body(e.getMessage(), 400, e.param(), e.code()).get("error");
  }

  @Test
  void takesATextOrAListOfTextsFloatByDefault() throws Exception {
    assertThat(parse("{\"model\": \"minilm\", \"input\": \"a cat\"}"))
        .isEqualTo(new EmbeddingRequest("minilm", List.of("a cat"), false, null));
    assertThat(
            parse(
                "{\"model\": \"minilm\", \"input\": [\"a\", \"b\"], \"encoding_format\":"
                    + " \"base64\", \"dimensions\": 8, \"user\": \"u-1\"}"))
        .isEqualTo(new EmbeddingRequest("minilm", List.of("a", "b"), true, 8));
    assertThat(
            parse(
                "{\"model\": \"m\", \"input\": \"x\", \"encoding_format\": null, \"dimensions\":"
                    + " null, \"user\": null}"))
        .isEqualTo(new EmbeddingRequest("m", List.of("x"), false, null));
  }

  @Test
  void eachBadFieldIsRefusedByName() throws Exception {
    assertRefused(
        "{\"input\": \"x\"}",
        "model",
        "missing_required_parameter",
        "the request needs a model (a text-embedding model's name, as GET /v1/models lists"
            + " them), such as {\"model\": \"minilm\", \"input\": [\"a text\"]}");
    assertRefused(
        "{\"model\": 7, \"input\": \"x\"}",
        "model",
        "invalid_type",
        "model is a number; expected a string naming a model");
    assertRefused(
        "{\"model\": \"m\"}",
        "input",
        "missing_required_parameter",
        "the request needs an input (a text or a list of texts), such as {\"model\": \"minilm\","
            + " \"input\": [\"a text\"]}");
    assertRefused(
        "{\"model\": \"m\", \"input\": \"\"}",
        "input",
        "invalid_value",
        "input is an empty string; every input needs some text");
    assertRefused(
        "{\"model\": \"m\", \"input\": []}",
        "input",
        "invalid_value",
        "input is an empty list; send at least one text");
    assertRefused(
        "{\"model\": \"m\", \"input\": [\"ok\", \"\"]}",
        "input",
        "invalid_value",
        "input[1] is an empty string; every input needs some text");
    assertRefused(
        "{\"model\": \"m\", \"input\": [\"ok\", {\"t\": 1}]}",
        "input",
        "invalid_type",
        "input[1] is an object; expected a text (a JSON string)");
    assertRefused(
        "{\"model\": \"m\", \"input\": {\"text\": \"x\"}}",
        "input",
        "invalid_type",
        "input is an object; expected a text or a list of texts, such as {\"model\": \"minilm\","
            + " \"input\": [\"a text\"]}");
    assertRefused(
        "{\"model\": \"m\", \"input\": \"x\", \"encoding_format\": \"float16\"}",
        "encoding_format",
        "unsupported_value",
        "encoding_format is 'float16'; expected 'float' or 'base64'");
    assertRefused(
        "{\"model\": \"m\", \"input\": \"x\", \"user\": 5}",
        "user",
        "invalid_type",
        "user is a number; expected a string (it is ignored)");
    assertRefused(
        "{\"model\": \"m\", \"input\": \"x\", \"temperature\": 0.5}",
        "temperature",
        "unknown_parameter",
        "unrecognized request argument 'temperature'; /v1/embeddings takes model, input,"
            + " encoding_format, dimensions and user");
  }

  @Test
  void tokenIdsAreRefusedWithWhatToDoInstead() throws Exception {
    String message =
        "input is given as token ids; modelcache takes the texts themselves and tokenizes them"
            + " with the model's own tokenizer (with LangChain's OpenAIEmbeddings, set"
            + " check_embedding_ctx_length=False)";
    assertRefused(
        "{\"model\": \"m\", \"input\": [1, 2, 3]}", "input", "unsupported_value", message);
    assertRefused(
        "{\"model\": \"m\", \"input\": [[1, 2], [3]]}", "input", "unsupported_value", message);
  }

  @Test
  void dimensionsMustBeAPositiveInteger() throws Exception {
    for (String bad : List.of("0", "-3", "1.5", "10000000000")) {
      assertRefused(
          "{\"model\": \"m\", \"input\": \"x\", \"dimensions\": " + bad + "}",
          "dimensions",
          "invalid_value",
          "dimensions is " + bad + "; expected a positive integer, at most the model's width");
    }
    assertRefused(
        "{\"model\": \"m\", \"input\": \"x\", \"dimensions\": \"8\"}",
        "dimensions",
        "invalid_type",
        "dimensions is a string; expected a positive integer, at most the model's width");
  }

  @Test
  void base64IsLittleEndianFloat32() {
    float[] vector = {1.0f, -0.5f, 3.25e-3f, Float.MIN_VALUE};
    byte[] bytes = Base64.getDecoder().decode(OpenAiRoutes.base64(vector));
    assertThat(bytes).hasSize(16);
    // 1.0f is 0x3F800000: little-endian puts its low byte first
    assertThat(bytes[0]).isZero();
    assertThat(bytes[3]).isEqualTo((byte) 0x3F);
    float[] back = new float[4];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(back);
    assertThat(back).containsExactly(vector);
  }

  private static void assertRefused(String body, String param, String code, String message)
      throws Exception {
    JsonNode error = refusal(body);
    assertThat(error.get("message").asText()).as(body).isEqualTo(message);
    assertThat(error.get("param").asText()).as(body).isEqualTo(param);
    assertThat(error.get("code").asText()).as(body).isEqualTo(code);
    assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
  }
}
