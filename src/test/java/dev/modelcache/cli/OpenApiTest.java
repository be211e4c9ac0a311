package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.atlassian.oai.validator.OpenApiInteractionValidator;
import com.atlassian.oai.validator.model.Request.Method;
import com.atlassian.oai.validator.model.SimpleRequest;
import com.atlassian.oai.validator.model.SimpleResponse;
import com.atlassian.oai.validator.report.ValidationReport;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code docs/openapi.yaml} against the running daemon: every route the server registers is in it,
 * and real answers (successes and errors) validate against it, for a model of every task: tensor
 * (iris, digits, and dtypes with each dtype the codec supports), text-classification (sentiment),
 * image-classification (colors, base64 in JSON and raw image bodies) and text-embedding
 * (all-MiniLM-L6-v2), over {@code /inference}, the Open Inference Protocol and the
 * OpenAI-compatible {@code /v1} routes, with the errors each documents (400, 401, 404, 413, 415,
 * 503). Each hand-written exchange also names the status it must get. Routes added later are
 * exercised automatically: path parameters become {@code iris}, and a POST sends the {@code
 * example} of its request body in the spec.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenApiTest {
  static final Path SPEC = Path.of("docs/openapi.yaml");
  private static final String TOKEN = "openapi-test-token";
  private static final Pattern PARAM = Pattern.compile("\\{[^}]+}");
  private static final int MAX_BODY = 65_536;
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;
  private OpenApiInteractionValidator validator;
  private JsonNode spec;

  /**
   * One request, and the status it must get ({@link #ANY} for the ones made from the spec).
   *
   * @param body the bytes sent, or null
   */
  record Exchange(
      String method, String path, String contentType, byte[] body, boolean token, int expect) {
    static final int ANY = -1;

    static Exchange get(String path, int expect) {
      return new Exchange("GET", path, null, null, true, expect);
    }

    static Exchange post(String path, String body, int expect) {
      return new Exchange(
          "POST", path, "application/json", body.getBytes(StandardCharsets.UTF_8), true, expect);
    }

    static Exchange raw(String path, String contentType, byte[] body, int expect) {
      return new Exchange("POST", path, contentType, body, true, expect);
    }

    Exchange withoutToken(int expect) {
      return new Exchange(method, path, contentType, body, false, expect);
    }

    @Override
    public String toString() {
      return method + " " + path + (contentType == null ? "" : " (" + contentType + ")");
    }
  }

  record Answer(int code, String contentType, String body, Map<String, List<String>> headers) {
    @Override
    public String toString() {
      return body.length() > 300 ? body.substring(0, 300) + "..." : body;
    }
  }

  @BeforeAll
  void start() throws Exception {
    spec = new ObjectMapper(new YAMLFactory()).readTree(SPEC.toFile());
    validator =
        OpenApiInteractionValidator.createForInlineApiSpecification(Files.readString(SPEC)).build();
    Path cache = tmp.resolve("cache");
    Path sources = tmp.resolve("sources");
    // A model of every task serves (minilm for /v1 too); 'broken' and 'asleep' fail (their
    // folder does not exist) and are not required, so the daemon is ready and they answer 503
    // with the reason.
    String yaml =
        "cache:\n  dir: "
            + cache
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  max_body_bytes: "
            + MAX_BODY
            + "\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", sources))
            + TestModels.modelYaml("digits", TestModels.copy("digits", sources))
            + TestModels.modelYaml("dtypes", TestModels.copy("dtypes", sources))
            + "  - {name: sentiment, source: 'file:"
            + TestModels.copy("sentiment", sources)
            + "', task: text-classification, task_options: {top_k: 2}}\n"
            + "  - {name: colors, source: 'file:"
            + TestModels.copy("colors", sources)
            + "', task: image-classification, task_options: {top_k: 1}}\n"
            + "  - name: broken\n    source: file:"
            + tmp.resolve("no-such-folder")
            + "\n    required: false\n"
            + "  - {name: minilm, source: 'file:"
            + TestModels.minilm(sources)
            + "', task: text-embedding}\n"
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
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void everyRegisteredRouteIsInTheSpecAndItsAnswersValidate() throws Exception {
    List<String> routes = daemon.http().routes();
    assertThat(routes).contains("GET /health/ready", "POST /inference", "GET /metrics");
    for (String route : routes) {
      String[] parts = route.split(" ", 2);
      JsonNode operation =
          spec.path("paths").path(parts[1]).path(parts[0].toLowerCase(Locale.ROOT));
      assertThat(operation.isObject()).as("%s is in docs/openapi.yaml", route).isTrue();
    }

    List<Exchange> exchanges = new ArrayList<>(handWritten());
    exchanges.addAll(tasks());
    Set<String> covered = new LinkedHashSet<>();
    for (Exchange exchange : exchanges) {
      covered.add(routeOf(exchange, routes));
    }
    for (String route : routes) {
      if (!covered.contains(route)) {
        exchanges.add(fromSpec(route));
      }
    }
    List<String> problems = new ArrayList<>();
    for (Exchange exchange : exchanges) {
      Answer answer = call(exchange);
      if (exchange.expect() != Exchange.ANY && answer.code() != exchange.expect()) {
        problems.add(
            exchange + " -> " + answer.code() + " (expected " + exchange.expect() + ") " + answer);
        continue;
      }
      if (answer.code() == 503 && !answer.headers().containsKey("Retry-After")) {
        problems.add(exchange + " -> 503 without Retry-After");
      }
      // A request made bad on purpose is not checked against the spec; its answer is.
      ValidationReport report =
          answer.code() < 400
              ? validator.validate(request(exchange), response(answer))
              : validator.validateResponse(
                  exchange.path(), Method.valueOf(exchange.method()), response(answer));
      if (report.hasErrors()) {
        problems.add(
            exchange
                + " -> "
                + answer.code()
                + " "
                + answer.body()
                + "\n    "
                + String.join(
                    "\n    ",
                    report.getMessages().stream()
                        .filter(m -> m.getLevel() == ValidationReport.Level.ERROR)
                        .map(m -> m.getKey() + ": " + m.getMessage())
                        .toList()));
      }
    }
    assertThat(problems).as("answers that do not match docs/openapi.yaml").isEmpty();
  }

  @Test
  void theExchangesCoverEveryTaskAndTheErrorsTheSpecDocuments() throws Exception {
    List<String> routes = daemon.http().routes();
    Set<String> exercised = new LinkedHashSet<>();
    List<Exchange> all = new ArrayList<>(handWritten());
    all.addAll(tasks());
    for (Exchange exchange : all) {
      exercised.add(routeOf(exchange, routes) + " " + exchange.expect());
    }
    assertThat(exercised)
        .contains(
            "POST /inference 200",
            "POST /inference 400",
            "POST /inference 404",
            "POST /inference/{model} 200",
            "POST /inference/{model} 400",
            "POST /inference/{model} 401",
            "POST /inference/{model} 404",
            "POST /inference/{model} 413",
            "POST /inference/{model} 415",
            "POST /inference/{model} 503",
            "POST /v2/models/{model}/infer 200",
            "POST /v2/models/{model}/infer 400",
            "POST /v2/models/{model}/infer 401",
            "POST /v2/models/{model}/infer 404",
            "POST /v2/models/{model}/infer 413",
            "POST /v2/models/{model}/infer 415",
            "POST /v2/models/{model}/infer 503",
            "GET /v2/models/{model} 503",
            "GET /v2/models/{model}/ready 503",
            "GET /v2/models/{model}/versions/{version} 404",
            "GET /models/{name} 404",
            "POST /v1/embeddings 200",
            "POST /v1/embeddings 400",
            "POST /v1/embeddings 401",
            "POST /v1/embeddings 404",
            "POST /v1/embeddings 415",
            "POST /v1/embeddings 503",
            "GET /v1/models 200",
            "GET /v1/models/{model} 200",
            "GET /v1/models/{model} 404");
    for (String model : List.of("dtypes", "sentiment", "colors", "minilm")) {
      assertThat(all)
          .as("a 200 and a 400 of %s over /inference and /v2", model)
          .anyMatch(
              e ->
                  e.path().contains("/" + model)
                      && e.expect() == 200
                      && e.path().startsWith("/inference"))
          .anyMatch(
              e ->
                  e.path().contains("/" + model)
                      && e.expect() == 200
                      && e.path().startsWith("/v2/models/" + model + "/infer"))
          .anyMatch(
              e ->
                  e.expect() == 400
                      && (e.path().contains("/" + model)
                          || new String(
                                  e.body() == null ? new byte[0] : e.body(), StandardCharsets.UTF_8)
                              .contains("\"" + model + "\"")));
    }
  }

  private static List<Exchange> handWritten() {
    String irisRow = "{\"inputs\":[5.1,3.4,1.5,0.2]}";
    return List.of(
        Exchange.get("/health/live", 200),
        Exchange.get("/health/ready", 200),
        Exchange.get("/health", 200),
        Exchange.get("/models", 200),
        Exchange.get("/models/iris", 200),
        Exchange.get("/models/broken", 200),
        Exchange.get("/models/nope", 404),
        Exchange.get("/metrics", 200),
        Exchange.get("/v2", 200),
        Exchange.get("/v2/health/live", 200),
        Exchange.get("/v2/health/ready", 200),
        Exchange.get("/v2/models/broken", 503),
        Exchange.get("/v2/models/broken/ready", 503),
        Exchange.get("/v2/models/nope/ready", 404),
        Exchange.get("/v2/models/iris/versions/not-the-revision", 404),
        Exchange.post("/inference", "{\"model\":\"iris\",\"inputs\":[[5.1,3.4,1.5,0.2]]}", 200),
        Exchange.post("/inference", "{\"model\":\"iris\",\"inputs\":[[1,2,3]]}", 400),
        Exchange.post("/inference", "{\"model\":\"nope\",\"inputs\":[1]}", 404),
        Exchange.post("/inference", "{\"inputs\":[1]}", 400),
        Exchange.post("/inference", "not json", 400),
        Exchange.post("/inference/iris", irisRow, 200),
        Exchange.post(
            "/inference/digits",
            "{\"inputs\":{\"shape\":[1,8,8],\"data\":[" + "0,".repeat(63) + "0]}}",
            200),
        Exchange.post("/inference/iris", irisRow, 200).withoutToken(401),
        Exchange.post("/inference/broken", "{\"inputs\":[1]}", 503),
        Exchange.post("/inference/nope", "{\"inputs\":[1]}", 404),
        Exchange.post("/inference/iris", "{\"inputs\":[" + "0,".repeat(MAX_BODY) + "0]}", 413),
        Exchange.raw(
            "/inference/iris", "text/plain", "hello".getBytes(StandardCharsets.UTF_8), 415),
        Exchange.post(
                "/v2/models/iris/infer", v2("input0", "FP32", "[1,4]", "[5.1,3.4,1.5,0.2]"), 200)
            .withoutToken(401),
        Exchange.post("/v2/models/nope/infer", v2("input0", "FP32", "[1,1]", "[1]"), 404),
        Exchange.post("/v2/models/broken/infer", v2("input0", "FP32", "[1,1]", "[1]"), 503),
        Exchange.post("/v2/models/iris/infer", "{\"inputs\": 1}", 400),
        Exchange.post(
            "/v2/models/iris/infer",
            v2("input0", "FP32", "[1," + (MAX_BODY + 1) + "]", "[" + "0,".repeat(MAX_BODY) + "0]"),
            413),
        Exchange.raw(
            "/v2/models/iris/infer", "text/plain", "hello".getBytes(StandardCharsets.UTF_8), 415),
        Exchange.post(
            "/v1/embeddings", "{\"model\":\"minilm\",\"input\":[\"a cat\",\"a dog\"]}", 200),
        Exchange.post(
            "/v1/embeddings",
            "{\"model\":\"minilm\",\"input\":\"a cat\",\"encoding_format\":\"base64\","
                + "\"dimensions\":32,\"user\":\"u\"}",
            200),
        Exchange.post("/v1/embeddings", "{\"model\":\"minilm\",\"input\":[1,2]}", 400),
        Exchange.post("/v1/embeddings", "{\"model\":\"nope\",\"input\":\"a\"}", 404),
        Exchange.post("/v1/embeddings", "{\"model\":\"iris\",\"input\":\"a\"}", 400),
        Exchange.post("/v1/embeddings", "{\"model\":\"asleep\",\"input\":\"a\"}", 503),
        Exchange.post("/v1/embeddings", "{\"model\":\"minilm\",\"input\":\"a\"}", 200)
            .withoutToken(401),
        Exchange.raw("/v1/embeddings", "text/plain", "hello".getBytes(StandardCharsets.UTF_8), 415),
        Exchange.get("/v1/models", 200),
        Exchange.get("/v1/models/minilm", 200),
        Exchange.get("/v1/models/iris", 404));
  }

  /**
   * The task models: every dtype of the tensor codec, text-classification, image-classification
   * (base64 and raw bodies) and text-embedding, each over /inference and the Open Inference
   * Protocol, with their metadata and their 400s.
   */
  private List<Exchange> tasks() throws IOException {
    List<Exchange> list = new ArrayList<>();
    JsonNode dtypes = TestModels.reference("dtypes").get("inputs");
    list.add(
        Exchange.post(
            "/inference/dtypes",
            "{\"inputs\": [{\"data\": "
                + dtypes.get("f32")
                + ", \"dtype\": \"float32\"}, {\"data\": "
                + dtypes.get("f64")
                + ", \"dtype\": \"float64\"}, {\"data\": "
                + dtypes.get("i32")
                + ", \"dtype\": \"int32\"}, {\"data\": "
                + dtypes.get("i64")
                + ", \"dtype\": \"int64\"}, {\"data\": "
                + dtypes.get("b")
                + ", \"dtype\": \"bool\", \"shape\": [2, 2]}]}",
            200));
    list.add(
        Exchange.post(
            "/inference/dtypes",
            "{\"inputs\": [{\"data\": [[1, 2]]}, {\"data\": [[1, 2]]}, {\"data\": [[1.5, 2]]},"
                + " {\"data\": [[1, 2]]}, {\"data\": [[true, false]]}]}",
            400));
    StringBuilder v2 = new StringBuilder("{\"id\": \"d\", \"inputs\": [");
    String[][] declared = {
      {"f32", "FP32"}, {"f64", "FP64"}, {"i32", "INT32"}, {"i64", "INT64"}, {"b", "BOOL"}
    };
    for (String[] input : declared) {
      v2.append(input[0].equals("f32") ? "" : ", ")
          .append(tensor(input[0], input[1], "[2,2]", dtypes.get(input[0]).toString()));
    }
    list.add(Exchange.post("/v2/models/dtypes/infer", v2 + "]}", 200));
    list.add(
        Exchange.post(
            "/v2/models/dtypes/infer", v2.toString().replace("\"FP64\"", "\"FP16\"") + "]}", 400));

    String texts = "[\"I loved it.\", \"A dull, tedious film.\"]";
    for (String model : List.of("sentiment", "minilm")) {
      list.add(Exchange.post("/inference/" + model, "{\"inputs\": " + texts + "}", 200));
      list.add(Exchange.post("/inference/" + model, "{\"inputs\": \"Just one text.\"}", 200));
      list.add(
          Exchange.post("/inference", "{\"model\": \"" + model + "\", \"inputs\": [1, 2]}", 400));
      list.add(
          Exchange.post("/v2/models/" + model + "/infer", v2("text", "BYTES", "[2]", texts), 200));
      list.add(
          Exchange.post("/v2/models/" + model + "/infer", v2("text", "BYTES", "[1]", "[7]"), 400));
    }

    JsonNode cases = TestModels.reference("colors").get("cases");
    String png = cases.get(0).get("png_base64").asText();
    String images =
        MAPPER.writeValueAsString(List.of(png, cases.get(1).get("png_base64").asText()));
    list.add(
        Exchange.post("/inference", "{\"model\": \"colors\", \"inputs\": " + images + "}", 200));
    list.add(Exchange.post("/inference/colors", "{\"inputs\": \"" + png + "\"}", 200));
    list.add(
        Exchange.post("/inference/colors", "{\"inputs\": [\"http://127.0.0.1:1/x.png\"]}", 400));
    list.add(Exchange.post("/inference/colors", "{\"inputs\": [\"bm90IGFuIGltYWdl\"]}", 400));
    byte[] bytes = Base64.getDecoder().decode(png);
    list.add(Exchange.raw("/inference/colors", "image/png", bytes, 200));
    list.add(Exchange.raw("/inference/colors", "application/octet-stream", bytes, 200));
    list.add(
        Exchange.raw(
            "/inference/colors", "image/png", "not a png".getBytes(StandardCharsets.UTF_8), 400));
    list.add(Exchange.raw("/inference/sentiment", "image/png", bytes, 415));
    list.add(Exchange.post("/v2/models/colors/infer", v2("image", "BYTES", "[2]", images), 200));

    for (String model : List.of("iris", "dtypes", "sentiment", "colors", "minilm")) {
      list.add(Exchange.get("/models/" + model, 200));
      list.add(Exchange.get("/v2/models/" + model, 200));
      list.add(Exchange.get("/v2/models/" + model + "/ready", 200));
      String revision =
          MAPPER
              .readTree(call(Exchange.get("/models/" + model, 200)).body())
              .get("revision")
              .asText();
      list.add(Exchange.get("/v2/models/" + model + "/versions/" + revision, 200));
      list.add(Exchange.get("/v2/models/" + model + "/versions/" + revision + "/ready", 200));
    }
    return list;
  }

  private static String v2(String name, String datatype, String shape, String data) {
    return "{\"inputs\": [" + tensor(name, datatype, shape, data) + "]}";
  }

  private static String tensor(String name, String datatype, String shape, String data) {
    return "{\"name\": \""
        + name
        + "\", \"datatype\": \""
        + datatype
        + "\", \"shape\": "
        + shape
        + ", \"data\": "
        + data
        + "}";
  }

  /**
   * A request for a route nobody wrote one for: path parameters are iris, the body the spec's
   * example.
   */
  private Exchange fromSpec(String route) {
    String[] parts = route.split(" ", 2);
    String path = PARAM.matcher(parts[1]).replaceAll("iris");
    if (parts[0].equals("GET")) {
      return Exchange.get(path, Exchange.ANY);
    }
    JsonNode example =
        spec.path("paths")
            .path(parts[1])
            .path(parts[0].toLowerCase(Locale.ROOT))
            .path("requestBody")
            .path("content")
            .path("application/json")
            .path("example");
    assertThat(example.isMissingNode())
        .as(
            "docs/openapi.yaml: %s needs requestBody.content.application/json.example (a request"
                + " for the demo model iris) so that OpenApiTest can call it",
            route)
        .isFalse();
    return Exchange.post(path, example.toString(), Exchange.ANY);
  }

  private static String routeOf(Exchange exchange, List<String> routes) {
    for (String route : routes) {
      String[] parts = route.split(" ", 2);
      Matcher m = PARAM.matcher(Pattern.quote(parts[1]));
      String regex = m.replaceAll("\\\\E[^/]+\\\\Q");
      if (parts[0].equals(exchange.method()) && exchange.path().matches(regex)) {
        return route;
      }
    }
    return exchange.method() + " " + exchange.path();
  }

  private Answer call(Exchange exchange) throws IOException {
    Request.Builder builder = new Request.Builder().url(base + exchange.path());
    if (exchange.token()) {
      builder.header("Authorization", "Bearer " + TOKEN);
    }
    if (exchange.body() != null) {
      builder.method(
          exchange.method(),
          RequestBody.create(exchange.body(), MediaType.get(exchange.contentType())));
    } else {
      builder.method(exchange.method(), null);
    }
    try (Response response = http.newCall(builder.build()).execute()) {
      return new Answer(
          response.code(),
          response.header("Content-Type"),
          response.body().string(),
          response.headers().toMultimap());
    }
  }

  private static SimpleRequest request(Exchange exchange) {
    SimpleRequest.Builder builder =
        new SimpleRequest.Builder(Method.valueOf(exchange.method()), exchange.path());
    if (exchange.body() != null) {
      builder.withContentType(exchange.contentType()).withBody(exchange.body());
    }
    if (exchange.token()) {
      builder.withAuthorization("Bearer " + TOKEN);
    }
    return builder.build();
  }

  private static SimpleResponse response(Answer answer) {
    SimpleResponse.Builder builder =
        SimpleResponse.Builder.status(answer.code()).withBody(answer.body());
    if (answer.contentType() != null) {
      builder.withContentType(answer.contentType());
    }
    answer.headers().forEach((name, values) -> builder.withHeader(name, values));
    return builder.build();
  }
}
