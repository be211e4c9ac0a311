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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
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
 * and real answers (successes and errors) validate against it. Routes added later are exercised
 * automatically: path parameters become {@code iris}, and a POST sends the {@code example} of its
 * request body in the spec.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenApiTest {
  static final Path SPEC = Path.of("docs/openapi.yaml");
  private static final String TOKEN = "openapi-test-token";
  private static final Pattern PARAM = Pattern.compile("\\{[^}]+}");

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;
  private OpenApiInteractionValidator validator;
  private JsonNode spec;

  record Exchange(String method, String path, String contentType, String body, boolean token) {
    static Exchange get(String path) {
      return new Exchange("GET", path, null, null, true);
    }

    static Exchange post(String path, String body) {
      return new Exchange("POST", path, "application/json", body, true);
    }

    Exchange withoutToken() {
      return new Exchange(method, path, contentType, body, false);
    }
  }

  record Answer(int code, String contentType, String body, Map<String, List<String>> headers) {}

  @BeforeAll
  void start() throws Exception {
    spec = new ObjectMapper(new YAMLFactory()).readTree(SPEC.toFile());
    validator =
        OpenApiInteractionValidator.createForInlineApiSpecification(Files.readString(SPEC)).build();
    Path cache = tmp.resolve("cache");
    Path sources = tmp.resolve("sources");
    // iris, digits and minilm (text-embedding, for /v1) serve; 'broken' and 'asleep' fail (their
    // folder does not exist) and are not required, so the daemon is ready and they answer 503 with
    // the reason.
    String yaml =
        "cache:\n  dir: "
            + cache
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", sources))
            + TestModels.modelYaml("digits", TestModels.copy("digits", sources))
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
    daemon.prepared().get(60, TimeUnit.SECONDS);
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
      // A request made bad on purpose is not checked against the spec; its answer is.
      ValidationReport report =
          answer.code() < 400
              ? validator.validate(request(exchange), response(answer))
              : validator.validateResponse(
                  exchange.path(), Method.valueOf(exchange.method()), response(answer));
      if (report.hasErrors()) {
        problems.add(
            exchange.method()
                + " "
                + exchange.path()
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
  void theHandWrittenExchangesMeetTheStatusesTheSpecDocuments() throws Exception {
    assertThat(call(Exchange.get("/models/nope")).code()).isEqualTo(404);
    assertThat(
            call(Exchange.post("/inference", "{\"model\":\"iris\",\"inputs\":[[1,2,3]]}")).code())
        .isEqualTo(400);
    assertThat(
            call(Exchange.post("/inference/iris", "{\"inputs\":[5.1,3.4,1.5,0.2]}").withoutToken())
                .code())
        .isEqualTo(401);
    Answer broken = call(Exchange.post("/inference/broken", "{\"inputs\":[1]}"));
    assertThat(broken.code()).isEqualTo(503);
    assertThat(broken.headers()).containsKey("Retry-After");
    assertThat(call(new Exchange("POST", "/inference/iris", "text/plain", "hello", true)).code())
        .isEqualTo(415);
    assertThat(
            call(Exchange.post("/v1/embeddings", "{\"model\":\"minilm\",\"input\":[1,2]}")).code())
        .isEqualTo(400);
    assertThat(call(Exchange.post("/v1/embeddings", "{\"model\":\"nope\",\"input\":\"a\"}")).code())
        .isEqualTo(404);
    assertThat(
            call(Exchange.post("/v1/embeddings", "{\"model\":\"minilm\",\"input\":\"a\"}")
                    .withoutToken())
                .code())
        .isEqualTo(401);
    Answer asleep = call(Exchange.post("/v1/embeddings", "{\"model\":\"asleep\",\"input\":\"a\"}"));
    assertThat(asleep.code()).isEqualTo(503);
    assertThat(asleep.headers()).containsKey("Retry-After");
    assertThat(call(Exchange.get("/v1/models/iris")).code()).isEqualTo(404);
  }

  private static List<Exchange> handWritten() {
    return List.of(
        Exchange.get("/health/live"),
        Exchange.get("/health/ready"),
        Exchange.get("/health"),
        Exchange.get("/models"),
        Exchange.get("/models/iris"),
        Exchange.get("/models/broken"),
        Exchange.get("/models/nope"),
        Exchange.get("/metrics"),
        Exchange.post("/inference", "{\"model\":\"iris\",\"inputs\":[[5.1,3.4,1.5,0.2]]}"),
        Exchange.post("/inference", "{\"model\":\"iris\",\"inputs\":[[1,2,3]]}"),
        Exchange.post("/inference", "{\"model\":\"nope\",\"inputs\":[1]}"),
        Exchange.post("/inference", "{\"inputs\":[1]}"),
        Exchange.post("/inference", "not json"),
        Exchange.post("/inference/iris", "{\"inputs\":[5.1,3.4,1.5,0.2]}"),
        Exchange.post("/inference/digits", "{\"inputs\":[" + "0,".repeat(63) + "0]}"),
        Exchange.post("/inference/iris", "{\"inputs\":[5.1,3.4,1.5,0.2]}").withoutToken(),
        Exchange.post("/inference/broken", "{\"inputs\":[1]}"),
        new Exchange("POST", "/inference/iris", "text/plain", "hello", true),
        Exchange.post("/v1/embeddings", "{\"model\":\"minilm\",\"input\":[\"a cat\",\"a dog\"]}"),
        Exchange.post(
            "/v1/embeddings",
            "{\"model\":\"minilm\",\"input\":\"a cat\",\"encoding_format\":\"base64\","
                + "\"dimensions\":32,\"user\":\"u\"}"),
        Exchange.post("/v1/embeddings", "{\"model\":\"minilm\",\"input\":[1,2]}"),
        Exchange.post("/v1/embeddings", "{\"model\":\"nope\",\"input\":\"a\"}"),
        Exchange.post("/v1/embeddings", "{\"model\":\"iris\",\"input\":\"a\"}"),
        Exchange.post("/v1/embeddings", "{\"model\":\"asleep\",\"input\":\"a\"}"),
        Exchange.post("/v1/embeddings", "{\"model\":\"minilm\",\"input\":\"a\"}").withoutToken(),
        new Exchange("POST", "/v1/embeddings", "text/plain", "hello", true),
        Exchange.get("/v1/models"),
        Exchange.get("/v1/models/minilm"),
        Exchange.get("/v1/models/iris"));
  }

  /**
   * A request for a route nobody wrote one for: path parameters are iris, the body the spec's
   * example.
   */
  private Exchange fromSpec(String route) {
    String[] parts = route.split(" ", 2);
    String path = PARAM.matcher(parts[1]).replaceAll("iris");
    if (parts[0].equals("GET")) {
      return Exchange.get(path);
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
    return new Exchange(parts[0], path, "application/json", example.toString(), true);
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
