package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
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
 * The whole daemon as a user meets it: demo models fetched from their file: source into a temp
 * cache, loaded in the real PyTorch engine, and answered over HTTP on a free port.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServeEndToEndTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;
  private ProxySelector originalProxySelector;
  private final List<URI> connections = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    // Every URL connection and plain socket the JVM opens asks the default ProxySelector first:
    // record them all.
    originalProxySelector = ProxySelector.getDefault();
    ProxySelector.setDefault(
        new ProxySelector() {
          @Override
          public List<Proxy> select(URI uri) {
            synchronized (connections) {
              connections.add(uri);
            }
            return List.of(Proxy.NO_PROXY);
          }

          @Override
          public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
        });
    Path sources = tmp.resolve("sources");
    Config config =
        TestModels.config(
            tmp.resolve("cache"),
            TestModels.modelYaml("iris", TestModels.copy("iris", sources))
                + TestModels.modelYaml("digits", TestModels.copy("digits", sources)));
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(60, TimeUnit.SECONDS);
    http = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
    base = "http://127.0.0.1:" + daemon.port();
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
    ProxySelector.setDefault(originalProxySelector);
  }

  private Reply post(String path, String body) throws IOException {
    return call(
        new Request.Builder().url(base + path).post(RequestBody.create(body, JSON)).build());
  }

  private Reply get(String path) throws IOException {
    return call(new Request.Builder().url(base + path).build());
  }

  private Reply call(Request request) throws IOException {
    try (Response response = http.newCall(request).execute()) {
      String text = response.body().string();
      return new Reply(
          response.code(),
          text,
          response.header("Retry-After"),
          response.header("Content-Type"),
          response.header("X-Request-Id"));
    }
  }

  record Reply(int code, String body, String retryAfter, String contentType, String requestId) {
    JsonNode json() throws IOException {
      return MAPPER.readTree(body);
    }
  }

  @Test
  void readyAfterBothModelsLoad() throws Exception {
    assertThat(get("/health/ready").code()).isEqualTo(200);
    assertThat(get("/health/live").code()).isEqualTo(200);
    Reply health = get("/health");
    assertThat(health.code()).isEqualTo(200);
    assertThat(health.json().get("status").asText()).isEqualTo("ready");
    assertThat(health.json().get("models").findValuesAsText("state"))
        .containsExactly("READY", "READY");
  }

  @Test
  void everyReferenceCaseMatchesPyTorchWithinTolerance() throws Exception {
    for (String model : List.of("iris", "digits")) {
      for (JsonNode testCase : TestModels.reference(model).get("cases")) {
        String body =
            "{\"model\": \"" + model + "\", \"inputs\": [" + testCase.get("inputs") + "]}";
        Reply reply = post("/inference", body);
        assertThat(reply.code()).as(reply.body()).isEqualTo(200);
        JsonNode answer = reply.json();
        assertThat(answer.get("predictions").get(0).get("label").asText())
            .isEqualTo(testCase.get("label").asText());
        JsonNode expected = testCase.get("probabilities");
        JsonNode actual = answer.get("outputs").get(0);
        assertThat(actual.size()).isEqualTo(expected.size());
        for (int i = 0; i < expected.size(); i++) {
          assertThat(actual.get(i).asDouble()).isCloseTo(expected.get(i).asDouble(), within(1e-5));
        }
      }
    }
  }

  @Test
  void modelInThePathAndAnUnbatchedInputGiveOnePrediction() throws Exception {
    JsonNode testCase = TestModels.reference("iris").get("cases").get(1);
    Reply reply = post("/inference/iris", "{\"inputs\": " + testCase.get("inputs") + "}");
    assertThat(reply.code()).isEqualTo(200);
    assertThat(reply.json().get("shape").toString()).isEqualTo("[3]");
    assertThat(reply.json().get("outputs").get(1).asDouble())
        .isCloseTo(testCase.get("probabilities").get(1).asDouble(), within(1e-5));
    assertThat(reply.json().get("predictions").get(0).get("label").asText())
        .isEqualTo("versicolor");
  }

  @Test
  void badRequestsGetA4xxNamingTheProblem() throws Exception {
    Reply malformed = post("/inference", "{\"model\": \"iris\", \"inputs\": [[1, 2,");
    assertThat(malformed.code()).isEqualTo(400);
    assertThat(malformed.json().get("error").asText()).startsWith("request body is not valid JSON");

    Reply wrongShape = post("/inference", "{\"model\": \"iris\", \"inputs\": [[1, 2, 3]]}");
    assertThat(wrongShape.code()).isEqualTo(400);
    assertThat(wrongShape.json().get("error").asText())
        .isEqualTo(
            "inputs have shape [1, 3] but model iris takes [4] (one input) or [N, 4] (a batch)");

    Reply ragged = post("/inference", "{\"model\": \"iris\", \"inputs\": [[1, 2, 3, 4], [1, 2]]}");
    assertThat(ragged.code()).isEqualTo(400);
    assertThat(ragged.json().get("error").asText())
        .startsWith("inputs[1] has 2 elements but 4 were expected");

    Reply string = post("/inference", "{\"model\": \"iris\", \"inputs\": [[1, 2, \"x\", 4]]}");
    assertThat(string.code()).isEqualTo(400);
    assertThat(string.json().get("error").asText())
        .startsWith("inputs[0][2] is a string; expected a number");

    Reply noInputs = post("/inference", "{\"model\": \"iris\"}");
    assertThat(noInputs.code()).isEqualTo(400);
    assertThat(noInputs.json().get("error").asText()).startsWith("request has no 'inputs'");

    Reply noModel = post("/inference", "{\"inputs\": [1, 2, 3, 4]}");
    assertThat(noModel.code()).isEqualTo(400);
    assertThat(noModel.json().get("error").asText()).contains("request needs a \"model\"");

    Reply unknown = post("/inference", "{\"model\": \"nope\", \"inputs\": [1]}");
    assertThat(unknown.code()).isEqualTo(404);
    assertThat(unknown.json().get("error").asText())
        .isEqualTo("model 'nope' is not configured (configured: iris, digits)");
    assertThat(post("/inference/nope", "{\"inputs\": [1]}").code()).isEqualTo(404);
    assertThat(get("/models/nope").code()).isEqualTo(404);

    Reply form =
        call(
            new Request.Builder()
                .url(base + "/inference")
                .post(RequestBody.create("a=b", MediaType.get("application/x-www-form-urlencoded")))
                .build());
    assertThat(form.code()).isEqualTo(415);
    assertThat(form.json().get("error").asText()).contains("send application/json");

    Reply wrongMethod = call(new Request.Builder().url(base + "/models").delete().build());
    assertThat(wrongMethod.code()).isEqualTo(405);
    assertThat(wrongMethod.json().get("error").asText())
        .isEqualTo("method DELETE is not allowed on /models");

    Reply tooBig = post("/inference/iris", "{\"inputs\": [" + "1,".repeat(9_000_000) + "1]}");
    assertThat(tooBig.code()).isEqualTo(413);
    assertThat(tooBig.json().get("error").asText())
        .isEqualTo("request body is larger than server.max_body_bytes (16777216 bytes)");

    Reply noRoute = get("/nope");
    assertThat(noRoute.code()).isEqualTo(404);
    assertThat(noRoute.json().get("error").asText()).startsWith("no route GET /nope");

    // and the daemon keeps serving
    assertThat(post("/inference/iris", "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}").code()).isEqualTo(200);
  }

  @Test
  void modelsListsRevisionAndEveryFileDigest() throws Exception {
    Reply reply = get("/models/iris");
    assertThat(reply.code()).isEqualTo(200);
    JsonNode iris = reply.json();
    assertThat(iris.get("state").asText()).isEqualTo("READY");
    assertThat(iris.get("device").asText()).isEqualTo("cpu()");
    assertThat(iris.get("revision").asText()).hasSize(40);
    assertThat(iris.get("files").findValuesAsText("sha256"))
        .containsExactly(
            TestModels.sha256("iris", "config.json"), TestModels.sha256("iris", "model.pt"));
    assertThat(iris.get("labels").toString())
        .isEqualTo("[\"setosa\",\"versicolor\",\"virginica\"]");
    assertThat(get("/models").json().get("models").findValuesAsText("name"))
        .containsExactly("iris", "digits");
  }

  @Test
  void metricsCountInferencesInPrometheusFormat() throws Exception {
    post("/inference/iris", "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}");
    Reply metrics = get("/metrics");
    assertThat(metrics.code()).isEqualTo(200);
    assertThat(metrics.contentType()).startsWith("text/plain");
    assertThat(metrics.body())
        .containsPattern(
            "(?m)^modelcache_inference_requests_total\\{model=\"iris\",outcome=\"success\"\\} [1-9]")
        .containsPattern(
            "(?m)^modelcache_inference_duration_seconds_bucket\\{model=\"iris\",le=\"[^\"]+\"\\}")
        .contains("modelcache_model_state{model=\"iris\",state=\"READY\"} 1.0")
        .contains("modelcache_model_state{model=\"iris\",state=\"FAILED\"} 0.0")
        .containsPattern(
            "(?m)^modelcache_fetch_bytes_total\\{model=\"iris\",source=\"file\"\\} [1-9]")
        .containsPattern("(?m)^modelcache_model_load_duration_seconds\\{model=\"iris\"\\} ")
        .containsPattern("(?m)^modelcache_cache_size_bytes [1-9]")
        .containsPattern("(?m)^modelcache_cache_free_bytes [1-9]")
        .contains("modelcache_inference_queue_depth{model=\"iris\"} 0.0")
        .contains("jvm_memory_used_bytes");
  }

  /**
   * gzip where the client asks for it and the answer is big enough to gain (Javalin's 1500 bytes):
   * the scrape and a batch of 200 rows, not a health probe, and nothing without {@code
   * Accept-Encoding}.
   */
  @Test
  void bigAnswersAreGzippedOnlyWhereAsked() throws Exception {
    String rows = String.join(", ", Collections.nCopies(200, "[5.1, 3.4, 1.5, 0.2]"));
    Request batch =
        new Request.Builder()
            .url(base + "/inference/iris")
            .post(RequestBody.create("{\"inputs\": [" + rows + "]}", JSON))
            .build();
    for (Request request : List.of(new Request.Builder().url(base + "/metrics").build(), batch)) {
      Request gzip = request.newBuilder().header("Accept-Encoding", "gzip").build();
      try (Response response = http.newCall(gzip).execute()) {
        assertThat(response.code()).isEqualTo(200);
        assertThat(response.header("Content-Encoding"))
            .as(request.url().toString())
            .isEqualTo("gzip");
        byte[] text = new GZIPInputStream(response.body().byteStream()).readAllBytes();
        assertThat(text.length).isGreaterThan(1500);
      }
      Request identity = request.newBuilder().header("Accept-Encoding", "identity").build();
      try (Response response = http.newCall(identity).execute()) {
        assertThat(response.code()).isEqualTo(200);
        assertThat(response.header("Content-Encoding")).isNull();
      }
    }
    Request health =
        new Request.Builder().url(base + "/health/live").header("Accept-Encoding", "gzip").build();
    try (Response response = http.newCall(health).execute()) {
      assertThat(response.code()).isEqualTo(200);
      assertThat(response.header("Content-Encoding")).as("a small answer").isNull();
    }
    Reply decoded = call(batch);
    assertThat(decoded.json().get("outputs").size()).isEqualTo(200);
  }

  @Test
  void requestIdsAreKeptOrMade() throws Exception {
    Reply given =
        call(
            new Request.Builder()
                .url(base + "/health/live")
                .header("X-Request-Id", "abc-123")
                .build());
    assertThat(given.requestId()).isEqualTo("abc-123");
    assertThat(get("/health/live").requestId()).hasSize(36);
  }

  @Test
  void everyRegisteredRouteIsInTheOpenApiFile() throws Exception {
    JsonNode paths =
        new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
            .readTree(Path.of("docs/openapi.yaml").toFile())
            .get("paths");
    List<String> routes = daemon.http().routes();
    assertThat(routes).contains("POST /inference", "GET /health/ready");
    for (String route : routes) {
      String[] parts = route.split(" ", 2);
      assertThat(paths.has(parts[1])).as(route + " in docs/openapi.yaml").isTrue();
      assertThat(paths.get(parts[1]).has(parts[0].toLowerCase(java.util.Locale.ROOT)))
          .as(route)
          .isTrue();
    }
  }

  @Test
  void nothingButLoopbackWasContacted() throws Exception {
    synchronized (connections) {
      for (URI uri : connections) {
        assertThat(InetAddress.getByName(uri.getHost()).isLoopbackAddress())
            .as(uri.toString())
            .isTrue();
      }
    }
    assertThat(System.getProperty("ai.djl.offline")).isEqualTo("true");
  }
}
