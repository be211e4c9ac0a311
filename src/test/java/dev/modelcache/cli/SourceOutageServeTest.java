package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.chaos.Chaos;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Fault;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An outage of the Hub is not an outage of the cache, end to end: a model fetched before is served
 * by a {@code serve} started while the Hub's port is closed or while it answers 503 to everything,
 * flagged {@code stale} in {@code /health} and {@code /models/{name}} and by {@code
 * modelcache_model_source_unreachable}; {@code fetch} (the init container) exits 0 on it.
 */
@Tag(Chaos.TAG)
class SourceOutageServeTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration READY_WITHIN = Duration.ofSeconds(120);

  @TempDir Path tmp;
  private FakeHub hub;
  private String commit;
  private final OkHttpClient http = new OkHttpClient();

  @BeforeEach
  void fetchWhileTheHubIsUp() throws Exception {
    hub = FakeHub.start();
    commit =
        hub.repo("demo/iris")
            .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
            .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
            .commit("main");
    CliRun fetched = CliRun.of("fetch", "-c", config(hub.endpoint()).toString());
    assertThat(fetched.code()).as(fetched.err()).isZero();
  }

  @AfterEach
  void stop() {
    hub.close();
  }

  private Path config(String endpoint) throws Exception {
    Path file = tmp.resolve("modelcache-" + Math.abs(endpoint.hashCode()) + ".yaml");
    Files.writeString(
        file,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + endpoint
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - name: iris\n    source: hf://demo/iris\n");
    return file;
  }

  private static int closedPort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  @Test
  void serveStartsFromTheCacheWhileTheHubPortIsClosed() throws Exception {
    int rounds = Chaos.rounds(1, 5);
    List<Double> seconds = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      int port = closedPort();
      seconds.add(
          serveFromCache(
              config("http://localhost:" + port),
              "iris - cannot reach localhost:" + port + " for revision main: "));
    }
    report("outage.seconds_to_ready", seconds);
  }

  @Test
  void serveStartsFromTheCacheDuringA503Storm() throws Exception {
    int rounds = Chaos.rounds(1, 3);
    List<Double> seconds = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      // every attempt of the listing gets 503, and Retry-After: 0 keeps the real backoff short
      for (int i = 0; i < 20; i++) {
        hub.fault(Fault.status("/revision/main", 503, "0"));
      }
      seconds.add(
          serveFromCache(
              config(hub.endpoint()),
              "iris - the Hub answered HTTP 503 for revision main (Injected fault: HTTP 503)"));
      hub.clearRequests();
    }
    report("outage.seconds_to_ready_5xx", seconds);
  }

  @Test
  void fetchOfACompleteCachedModelSucceedsDuringTheOutage() throws Exception {
    CliRun run = CliRun.of("fetch", "-c", config("http://localhost:" + closedPort()).toString());
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .contains("ok iris: snapshot " + commit + ", 2 files")
        .contains("(from the cache: the source is unreachable, see the WARN above)");
  }

  /** Starts serve on {@code config}, asserts what it shows, returns the seconds to READY. */
  private double serveFromCache(Path config, String reasonStart) throws Exception {
    long start = System.nanoTime();
    try (ChildDaemon child = ChildDaemon.start(config, Map.of())) {
      int port = child.awaitReady(READY_WITHIN);
      double seconds = (System.nanoTime() - start) / 1e9;
      String base = "http://127.0.0.1:" + port;

      JsonNode warn =
          child.awaitMessage(
              m -> m.startsWith("iris - source unreachable: serving revision " + commit),
              Duration.ofSeconds(5));
      assertThat(warn.path("level").asText()).isEqualTo("WARN");

      JsonNode health = get(base + "/health", 200);
      assertThat(health.path("status").asText()).isEqualTo("ready");
      JsonNode iris = health.path("models").get(0);
      assertThat(iris.path("state").asText()).isEqualTo("READY");
      assertThat(iris.path("stale").path("revision").asText()).isEqualTo(commit);
      assertThat(iris.path("stale").path("reason").asText()).startsWith(reasonStart);
      assertThat(iris.path("stale").path("since").asText()).isNotEmpty();

      JsonNode model = get(base + "/models/iris", 200);
      assertThat(model.path("revision").asText()).isEqualTo(commit);
      assertThat(model.path("stale").path("revision").asText()).isEqualTo(commit);

      try (Response metrics =
          http.newCall(new Request.Builder().url(base + "/metrics").build()).execute()) {
        assertThat(metrics.body().string())
            .contains("modelcache_model_source_unreachable{model=\"iris\"} 1.0");
      }
      Request infer =
          new Request.Builder()
              .url(base + "/inference/iris")
              .post(
                  RequestBody.create(
                      "{\"inputs\": "
                          + TestModels.reference("iris").get("cases").get(0).get("inputs")
                          + "}",
                      MediaType.get("application/json")))
              .build();
      try (Response answer = http.newCall(infer).execute()) {
        assertThat(answer.code()).isEqualTo(200);
      }
      return seconds;
    }
  }

  private JsonNode get(String url, int status) throws Exception {
    try (Response response = http.newCall(new Request.Builder().url(url).build()).execute()) {
      assertThat(response.code()).isEqualTo(status);
      return JSON.readTree(response.body().string());
    }
  }

  private static void report(String name, List<Double> seconds) {
    double max = seconds.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    Chaos.report(
        name,
        String.format(
            Locale.ROOT, "%.1f (max of %d starts with the source down)", max, seconds.size()));
  }
}
