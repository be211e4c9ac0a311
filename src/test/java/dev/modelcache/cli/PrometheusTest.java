package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
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
 * {@code /metrics} as Prometheus meets it, with {@code server.auth.metrics: true}: the scrape
 * passes {@code promtool check metrics}, the example alert rules pass {@code promtool check rules},
 * and a real Prometheus server scrapes the daemon with the bearer token and sees the inference
 * counter move. The promtool and Prometheus parts skip, saying so, where the binaries are missing
 * ({@code .ci/run} installs Debian's {@code prometheus} package, which ships both).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrometheusTest {
  private static final String TOKEN = "metrics-token-5c1d";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String SUCCESSES =
      "modelcache_inference_requests_total{model=\"iris\",outcome=\"success\"}";

  @TempDir static Path tmp;
  private Daemon daemon;
  private String base;
  private final OkHttpClient http = new OkHttpClient();

  @BeforeAll
  void start() throws Exception {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  auth: { metrics: true }\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src")));
    Config config =
        new ConfigLoader(Map.of("MODELCACHE_TOKEN", TOKEN), tmp).parse(yaml, "test config", tmp);
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(60, TimeUnit.SECONDS);
    base = "http://127.0.0.1:" + daemon.port();
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  private int infer(String inputs) throws IOException {
    Request request =
        new Request.Builder()
            .url(base + "/inference/iris")
            .header("Authorization", "Bearer " + TOKEN)
            .post(RequestBody.create("{\"inputs\": " + inputs + "}", JSON))
            .build();
    try (Response response = http.newCall(request).execute()) {
      return response.code();
    }
  }

  private String scrape() throws IOException {
    Request request =
        new Request.Builder()
            .url(base + "/metrics")
            .header("Authorization", "Bearer " + TOKEN)
            .build();
    try (Response response = http.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(200);
      return response.body().string();
    }
  }

  @Test
  void metricsNeedTheTokenWhenAuthMetricsIsOn() throws Exception {
    try (Response open =
        http.newCall(new Request.Builder().url(base + "/metrics").build()).execute()) {
      assertThat(open.code()).isEqualTo(401);
      assertThat(open.header("WWW-Authenticate")).isEqualTo("Bearer");
      assertThat(open.body().string())
          .isEqualTo(
              "{\"error\":\"this route needs 'Authorization: Bearer <token>' (the token set in"
                  + " MODELCACHE_TOKEN)\"}");
    }
    assertThat(scrape()).contains("modelcache_model_state{model=\"iris\",state=\"READY\"} 1.0");
    try (Response live =
        http.newCall(new Request.Builder().url(base + "/health/live").build()).execute()) {
      assertThat(live.code()).as("probes stay open").isEqualTo(200);
    }
  }

  @Test
  void theScrapePassesPromtool() throws Exception {
    Path promtool = binary("promtool");
    assertThat(infer("[5.1, 3.4, 1.5, 0.2]")).isEqualTo(200);
    assertThat(infer("[1, 2, 3]")).isEqualTo(400);
    Path scrape = tmp.resolve("scrape.txt");
    Files.writeString(scrape, scrape());
    Run check =
        run(
            new ProcessBuilder(promtool.toString(), "check", "metrics")
                .redirectInput(scrape.toFile()));
    System.out.println(
        "promtool check metrics: exit " + check.exit() + " [" + check.output() + "]");
    assertThat(check.exit()).as(check.output()).isZero();
    assertThat(check.output()).as("lint problems").isEmpty();
  }

  @Test
  void theExampleAlertRulesPassPromtool() throws Exception {
    Path promtool = binary("promtool");
    Path rules = tmp.resolve("alerts.yaml");
    Files.writeString(
        rules,
        dev.modelcache.metrics.MetricsDocs.alertRules(
            Files.readString(Path.of("docs/metrics.md"))));
    Run check = run(new ProcessBuilder(promtool.toString(), "check", "rules", rules.toString()));
    System.out.println("promtool check rules: exit " + check.exit() + " [" + check.output() + "]");
    assertThat(check.exit()).as(check.output()).isZero();
    long documented =
        Files.readString(rules).lines().filter(l -> l.strip().startsWith("- alert:")).count();
    assertThat(documented).isGreaterThanOrEqualTo(8);
    assertThat(check.output()).contains("SUCCESS: " + documented + " rules found");
  }

  @Test
  void aRealPrometheusScrapesTheDaemonAndSeesTheCounterMove() throws Exception {
    Path prometheus = binary("prometheus");
    assertThat(infer("[5.1, 3.4, 1.5, 0.2]")).isEqualTo(200); // the series exists from now on
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    Path config = tmp.resolve("prometheus.yml");
    Files.writeString(
        config,
        String.join(
            "\n",
            "global: {scrape_interval: 1s, evaluation_interval: 1s}",
            "scrape_configs:",
            "  - job_name: modelcache",
            "    scrape_interval: 1s",
            "    authorization: {type: Bearer, credentials: " + TOKEN + "}",
            "    static_configs:",
            "      - targets: ['127.0.0.1:" + daemon.port() + "']",
            ""));
    Path log = tmp.resolve("prometheus.log");
    Process server =
        new ProcessBuilder(
                prometheus.toString(),
                "--config.file=" + config,
                "--storage.tsdb.path=" + Files.createDirectories(tmp.resolve("tsdb")),
                "--web.listen-address=127.0.0.1:" + port)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      String api = "http://127.0.0.1:" + port + "/api/v1/query?query=";
      JsonNode up = poll(api, "up", r -> value(r) == 1, server, log);
      System.out.println("Prometheus: up = " + up);
      double before = value(poll(api, SUCCESSES, r -> value(r) >= 1, server, log));
      for (int i = 0; i < 3; i++) {
        assertThat(infer("[6.3, 3.4, 5.6, 2.4]")).isEqualTo(200);
      }
      JsonNode after = poll(api, SUCCESSES, r -> value(r) >= before + 3, server, log);
      System.out.println("Prometheus: " + SUCCESSES + " went from " + before + " to " + after);
      assertThat(value(after)).isEqualTo(before + 3);
      assertThat(after.get(0).get("metric").get("job").asText()).isEqualTo("modelcache");
    } finally {
      server.destroy();
      if (!server.waitFor(10, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** The first sample's value of an instant-query result, or -1 when it has none. */
  private static double value(JsonNode result) {
    return result.size() == 0 ? -1 : Double.parseDouble(result.get(0).get("value").get(1).asText());
  }

  /**
   * Queries until the result satisfies {@code done}: Prometheus is another process, scraping on its
   * own schedule, so its state can only be asked for.
   */
  private JsonNode poll(
      String api, String query, Predicate<JsonNode> done, Process server, Path log)
      throws Exception {
    Request request =
        new Request.Builder().url(api + URLEncoder.encode(query, StandardCharsets.UTF_8)).build();
    return Poll.until(
            Duration.ofSeconds(30),
            Duration.ofMillis(200),
            () -> {
              if (!server.isAlive()) {
                throw new AssertionError(
                    "Prometheus exited while asked "
                        + query
                        + "; its log:\n"
                        + Files.readString(log));
              }
              return ask(request);
            },
            answer -> answer.result() != null && done.test(answer.result()),
            answer ->
                "Prometheus never answered "
                    + query
                    + " as expected; last answer: "
                    + answer.text()
                    + "\nits log:\n"
                    + Files.readString(log))
        .result();
  }

  /** An answer of Prometheus's query API: its text, and its result when it gave one. */
  private record Answer(String text, JsonNode result) {}

  private Answer ask(Request request) {
    try (Response response = http.newCall(request).execute()) {
      String text = response.body().string();
      return new Answer(
          text, response.code() == 200 ? MAPPER.readTree(text).get("data").get("result") : null);
    } catch (IOException e) {
      return new Answer(e.toString(), null); // not listening yet
    }
  }

  record Run(int exit, String output) {}

  private static Run run(ProcessBuilder builder) throws Exception {
    Process process = builder.redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return new Run(process.exitValue(), output.strip());
  }

  /** {@code name} on the PATH; skips the test, saying why, when it is not there. */
  private static Path binary(String name) {
    Optional<Path> found =
        List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)).stream()
            .filter(dir -> !dir.isEmpty())
            .map(dir -> Path.of(dir, name))
            .filter(Files::isExecutable)
            .findFirst();
    Assumptions.assumeTrue(
        found.isPresent(),
        name
            + " is not on the PATH; install Debian's prometheus package"
            + " (apt-get install prometheus, as .ci/run does) to run this test");
    return found.get();
  }
}
