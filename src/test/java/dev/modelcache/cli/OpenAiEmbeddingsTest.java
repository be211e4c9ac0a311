package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.PythonVenv;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAI-compatible routes of a live daemon serving the real all-MiniLM-L6-v2 (text-embedding),
 * iris (tensor) and a text-embedding model that failed: the real {@code openai} Python SDK pointed
 * at it by {@code base_url} alone, and the same routes over plain HTTP; the vectors are those of
 * {@code POST /inference}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenAiEmbeddingsTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String TOKEN = "openai-test-token";
  private static final List<String> TEXTS =
      List.of("A cat sat on the mat.", "modelcache serves models over HTTP.", "Grüße aus Köln!");

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;
  private JsonNode reference; // POST /inference's vectors of TEXTS

  @BeforeAll
  void start() throws Exception {
    Path sources = tmp.resolve("sources");
    Path cache = tmp.resolve("cache");
    String yaml =
        "cache:\n  dir: "
            + cache
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  max_body_bytes: 65536\n"
            + "  limits: {max_items: 8}\nmodels:\n"
            + "  - {name: minilm, source: 'file:"
            + TestModels.minilm(sources)
            + "', task: text-embedding, task_options: {pooling: mean, normalize: true}}\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", sources))
            + "  - {name: asleep, source: 'file:"
            + tmp.resolve("no-such-folder")
            + "', task: text-embedding, required: false}\n";
    Config config =
        new ConfigLoader(Map.of("MODELCACHE_TOKEN", TOKEN), cache)
            .parse(yaml, "test config", cache);
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
    http = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
    base = "http://127.0.0.1:" + daemon.port();
    reference =
        call("POST", "/inference/minilm", MAPPER.writeValueAsString(Map.of("inputs", TEXTS)), 200)
            .get("outputs");
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  private JsonNode call(String method, String path, String body, int expected) throws IOException {
    return call(method, path, body, expected, TOKEN);
  }

  private JsonNode call(String method, String path, String body, int expected, String token)
      throws IOException {
    Request.Builder request =
        new Request.Builder()
            .url(base + path)
            .method(method, body == null ? null : RequestBody.create(body, JSON));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    try (Response response = http.newCall(request.build()).execute()) {
      String text = response.body().string();
      assertThat(response.code()).as(method + " " + path + " -> " + text).isEqualTo(expected);
      if (expected == 503) {
        assertThat(response.header("Retry-After")).isEqualTo("5");
      }
      return MAPPER.readTree(text);
    }
  }

  private static float[] decode(String base64) {
    ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(base64));
    float[] vector = new float[bytes.remaining() / Float.BYTES];
    bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(vector);
    return vector;
  }

  /** The tokens the model's tokenizer makes of {@code texts}, [CLS] and [SEP] included. */
  private static int tokens(List<String> texts) throws IOException {
    try (HuggingFaceTokenizer tokenizer =
        HuggingFaceTokenizer.newInstance(tmp.resolve("sources/minilm/tokenizer.json"))) {
      return texts.stream().mapToInt(t -> tokenizer.encode(t).getIds().length).sum();
    }
  }

  private void assertSameAsInference(int row, JsonNode vector) {
    assertThat(vector).hasSize(384);
    for (int d = 0; d < 384; d++) {
      assertThat(vector.get(d).asDouble())
          .as("row %d dim %d", row, d)
          .isCloseTo(reference.get(row).get(d).asDouble(), within(1e-6));
    }
  }

  private void assertSameAsInference(int row, float[] vector) {
    assertSameAsInference(row, MAPPER.valueToTree(vector));
  }

  @Test
  void floatAndBase64AnswersCarryInferencesVectorsAndTheTokenCount() throws Exception {
    JsonNode floats =
        call(
            "POST",
            "/v1/embeddings",
            MAPPER.writeValueAsString(Map.of("model", "minilm", "input", TEXTS)),
            200);
    assertThat(floats.get("object").asText()).isEqualTo("list");
    assertThat(floats.get("model").asText()).isEqualTo("minilm");
    assertThat(floats.get("data")).hasSize(3);
    for (int i = 0; i < 3; i++) {
      JsonNode item = floats.get("data").get(i);
      assertThat(item.get("object").asText()).isEqualTo("embedding");
      assertThat(item.get("index").asInt()).isEqualTo(i);
      assertSameAsInference(i, item.get("embedding"));
    }
    assertThat(tokens(List.of("A cat sat on the mat."))).isEqualTo(9); // [CLS] a cat ... . [SEP]
    assertThat(floats.get("usage").get("prompt_tokens").asInt()).isEqualTo(tokens(TEXTS));
    assertThat(floats.get("usage").get("total_tokens").asInt()).isEqualTo(tokens(TEXTS));

    JsonNode base64 =
        call(
            "POST",
            "/v1/embeddings",
            "{\"model\": \"minilm\", \"input\": \""
                + TEXTS.get(1)
                + "\", \"encoding_format\":"
                + " \"base64\"}",
            200);
    assertThat(base64.get("data")).hasSize(1);
    assertSameAsInference(1, decode(base64.get("data").get(0).get("embedding").asText()));
    assertThat(base64.get("usage").get("prompt_tokens").asInt())
        .isEqualTo(tokens(List.of(TEXTS.get(1))));
  }

  @Test
  void fewerDimensionsAreTheFirstOnesScaledToLengthOne() throws Exception {
    JsonNode answer =
        call(
            "POST",
            "/v1/embeddings",
            "{\"model\": \"minilm\", \"input\": \"" + TEXTS.get(0) + "\", \"dimensions\": 64}",
            200);
    JsonNode vector = answer.get("data").get(0).get("embedding");
    assertThat(vector).hasSize(64);
    double norm = 0;
    for (int d = 0; d < 64; d++) {
      norm += Math.pow(reference.get(0).get(d).asDouble(), 2);
    }
    double sum = 0;
    for (int d = 0; d < 64; d++) {
      double expected = reference.get(0).get(d).asDouble() / Math.sqrt(norm);
      assertThat(vector.get(d).asDouble()).isCloseTo(expected, within(1e-6));
      sum += Math.pow(vector.get(d).asDouble(), 2);
    }
    assertThat(sum).isCloseTo(1.0, within(1e-5));
    JsonNode same =
        call(
            "POST",
            "/v1/embeddings",
            "{\"model\": \"minilm\", \"input\": \"x\", \"dimensions\": 384}",
            200);
    assertThat(same.get("data").get(0).get("embedding")).hasSize(384);
    assertError(
        call(
            "POST",
            "/v1/embeddings",
            "{\"model\": \"minilm\", \"input\": \"x\", \"dimensions\": 385}",
            400),
        "dimensions is 385, more than the 384 of minilm's vectors; ask for at most 384",
        "dimensions",
        "invalid_value");
  }

  @Test
  void modelsListsTheTextEmbeddingModels() throws Exception {
    JsonNode list = call("GET", "/v1/models", null, 200, null);
    assertThat(list.get("object").asText()).isEqualTo("list");
    assertThat(list.get("data").findValuesAsText("id")).containsExactly("minilm", "asleep");
    JsonNode minilm = list.get("data").get(0);
    assertThat(minilm.get("object").asText()).isEqualTo("model");
    assertThat(minilm.get("owned_by").asText()).isEqualTo("modelcache");
    long now = System.currentTimeMillis() / 1000;
    assertThat(minilm.get("created").asLong()).isBetween(now - 600, now + 5);
    assertThat(list.get("data").get(1).get("created").asLong()).isZero(); // no files
    assertThat(call("GET", "/v1/models/minilm", null, 200, null)).isEqualTo(minilm);
    assertError(
        call("GET", "/v1/models/iris", null, 404, null),
        "model 'iris' is a tensor model; the /v1 routes serve text-embedding models only"
            + " (configured: minilm, asleep); GET /models lists every model",
        "model",
        "model_not_found");
  }

  @Test
  void failuresAreInOpenAisShapeWithTheirStatuses() throws Exception {
    String ok = "{\"model\": \"minilm\", \"input\": \"x\"}";
    assertError(
        call("POST", "/v1/embeddings", ok, 401, null),
        "this route needs 'Authorization: Bearer <token>' (the token set in MODELCACHE_TOKEN)",
        null,
        "invalid_api_key");
    assertError(
        call("POST", "/v1/embeddings", ok, 401, "sk-wrong"),
        "the bearer token is wrong",
        null,
        "invalid_api_key");
    assertError(
        call("POST", "/v1/embeddings", "{\"model\": \"nope\", \"input\": \"x\"}", 404),
        "model 'nope' is not configured (configured: minilm, iris, asleep)",
        "model",
        "model_not_found");
    assertError(
        call("POST", "/v1/embeddings", "{\"model\": \"iris\", \"input\": \"x\"}", 400),
        "iris is a tensor model; /v1/embeddings is served by text-embedding models (configured:"
            + " minilm, asleep)",
        "model",
        "model_not_supported");
    JsonNode asleep =
        call("POST", "/v1/embeddings", "{\"model\": \"asleep\", \"input\": \"x\"}", 503);
    assertThat(asleep.get("error").get("type").asText()).isEqualTo("server_error");
    assertThat(asleep.get("error").get("code").asText()).isEqualTo("model_not_ready");
    assertThat(asleep.get("error").get("message").asText()).startsWith("asleep is FAILED: ");
    assertError(
        call("POST", "/v1/embeddings", "{\"model\": \"minilm\", \"input\": [1, 2]}", 400),
        "input is given as token ids; modelcache takes the texts themselves and tokenizes them"
            + " with the model's own tokenizer (with LangChain's OpenAIEmbeddings, set"
            + " check_embedding_ctx_length=False)",
        "input",
        "unsupported_value");
    assertError(
        call("POST", "/v1/embeddings", "{\"model\": \"minilm\", \"input\": [\"a\", \"\"]}", 400),
        "input[1] is an empty string; every input needs some text",
        "input",
        "invalid_value");
    assertThat(
            call("POST", "/v1/embeddings", "{\"model\": ", 400)
                .get("error")
                .get("message")
                .asText())
        .startsWith("request body is not valid JSON: ");
    assertError(
        call(
            "POST",
            "/v1/embeddings",
            MAPPER.writeValueAsString(
                Map.of("model", "minilm", "input", List.of("a".repeat(9).split("")))),
            413),
        "minilm - the request holds 9 items, more than server.limits.max_items (8); send them in"
            + " requests of at most 8 items",
        null,
        "request_too_large");
    assertError(
        call(
            "POST",
            "/v1/embeddings",
            "{\"model\": \"minilm\", \"input\": \"" + "a ".repeat(40_000) + "\"}",
            413),
        "request body is larger than server.max_body_bytes (65536 bytes)",
        null,
        "request_too_large");
    assertThat(call("POST", "/v1/chat/completions", "{}", 404).get("error").get("code").asText())
        .isEqualTo("unknown_url");
  }

  @Test
  void embeddingsCountAsInferenceRequestsOfTheModel() throws Exception {
    double before = successes();
    call("POST", "/v1/embeddings", "{\"model\": \"minilm\", \"input\": [\"a\", \"b\"]}", 200);
    assertThat(successes()).isEqualTo(before + 1);
  }

  private double successes() throws IOException {
    Request request = new Request.Builder().url(base + "/metrics").build();
    try (Response response = http.newCall(request).execute()) {
      Matcher m =
          Pattern.compile(
                  "(?m)^modelcache_inference_requests_total\\{model=\"minilm\",outcome=\"success\"}"
                      + " (\\S+)$")
              .matcher(response.body().string());
      return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }
  }

  private static void assertError(JsonNode body, String message, String param, String code) {
    JsonNode error = body.get("error");
    assertThat(error.get("message").asText()).isEqualTo(message);
    assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.get("param").isNull() ? null : error.get("param").asText()).isEqualTo(param);
    assertThat(error.get("code").asText()).isEqualTo(code);
  }

  @Test
  void theOpenAiPythonSdkSwitchesToTheSidecarByItsBaseUrl() throws Exception {
    PythonVenv venv = PythonVenv.of("openai", "import openai; print(openai.__version__)", "openai");
    Optional<Path> python = venv.python();
    Assumptions.assumeTrue(python.isPresent(), () -> "no venv with openai: " + venv.reason());
    PythonVenv.Result run =
        PythonVenv.run(
            python.get(),
            SDK_SCRIPT,
            Map.of(
                "BASE_URL",
                base + "/v1",
                "API_KEY",
                TOKEN,
                "TEXTS",
                MAPPER.writeValueAsString(TEXTS)),
            Duration.ofSeconds(120));
    assertThat(run.ok()).as(run.output()).isTrue();
    String[] lines = run.output().strip().split("\n");
    JsonNode out = MAPPER.readTree(lines[lines.length - 1]);

    // by default the SDK asks for base64 and decodes it itself
    assertThat(out.get("default_requested").asText()).isEqualTo("base64");
    for (int i = 0; i < 3; i++) {
      assertSameAsInference(i, out.get("default").get(i));
      assertSameAsInference(i, decode(out.get("base64").get(i).asText()));
    }
    assertSameAsInference(0, out.get("float_one"));
    assertThat(out.get("usage"))
        .containsExactly(MAPPER.valueToTree(tokens(TEXTS)), MAPPER.valueToTree(tokens(TEXTS)));
    assertThat(out.get("dimensions_64").asInt()).isEqualTo(64);
    assertThat(out.get("models").toString()).isEqualTo("[\"minilm\",\"asleep\"]");
    assertThat(out.get("retrieved").asText()).isEqualTo("minilm");
    assertThat(out.get("not_found").toString())
        .isEqualTo("[\"NotFoundError\",404,\"model_not_found\",\"model\"]");
    assertThat(out.get("bad_key").toString())
        .isEqualTo("[\"AuthenticationError\",401,\"invalid_api_key\",null]");
    assertThat(out.get("not_embedding").toString())
        .isEqualTo("[\"BadRequestError\",400,\"model_not_supported\",\"model\"]");
  }

  /** Drives the real SDK; prints one JSON line of what it got. */
  private static final String SDK_SCRIPT =
      """
      import json, os
      try:
          import httpx2 as httpx  # the client openai 3.x is built on
      except ImportError:
          import httpx
      import openai
      from openai import OpenAI

      base, key, texts = os.environ["BASE_URL"], os.environ["API_KEY"], json.loads(os.environ["TEXTS"])
      requested = []
      def record(request):
          if request.url.path.endswith("/embeddings"):
              requested.append(json.loads(request.content).get("encoding_format"))
      client = OpenAI(base_url=base, api_key=key, max_retries=0,
                      http_client=httpx.Client(event_hooks={"request": [record]}))
      out = {}
      r = client.embeddings.create(model="minilm", input=texts)
      out["default"] = [d.embedding for d in r.data]
      out["default_requested"] = requested[0]
      out["usage"] = [r.usage.prompt_tokens, r.usage.total_tokens]
      out["float_one"] = client.embeddings.create(
          model="minilm", input=texts[0], encoding_format="float").data[0].embedding
      r = client.embeddings.create(model="minilm", input=texts, encoding_format="base64")
      out["base64"] = [d.embedding for d in r.data]
      out["dimensions_64"] = len(client.embeddings.create(
          model="minilm", input=texts[0], dimensions=64).data[0].embedding)
      out["models"] = [m.id for m in client.models.list()]
      out["retrieved"] = client.models.retrieve("minilm").id

      def failure(call):
          try:
              call()
          except openai.APIStatusError as e:
              return [type(e).__name__, e.status_code, e.code, e.param]
          return "no error"
      out["not_found"] = failure(lambda: client.embeddings.create(model="nope", input="x"))
      out["not_embedding"] = failure(lambda: client.embeddings.create(model="iris", input="x"))
      wrong = OpenAI(base_url=base, api_key="sk-wrong", max_retries=0)
      out["bad_key"] = failure(lambda: wrong.embeddings.create(model="minilm", input="x"))
      print(json.dumps(out))
      """;
}
