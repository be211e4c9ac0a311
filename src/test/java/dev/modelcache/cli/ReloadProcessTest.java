package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.ChildJvm;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code modelcache serve} in a child JVM whose config is edited and reloaded with SIGHUP: models
 * added are served, models removed answer 404, a bad config is refused whole and the running one
 * keeps serving; and the per-model meters are there, at zero, before the first request.
 */
class ReloadProcessTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final MediaType JSON_TYPE = MediaType.get("application/json");
  static final String INPUT = "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}";
  static final Duration WAIT = Duration.ofSeconds(60);
  static final Duration EVERY = Duration.ofMillis(100);

  @TempDir Path tmp;

  @Test
  void sighupAddsAndRemovesModelsAndRefusesABadConfigWhole() throws Exception {
    Path iris = TestModels.copy("iris", tmp.resolve("src"));
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(config, yaml(tmp, "", model("iris", iris)));
    OkHttpClient http = client();
    try (ChildDaemon child = ChildDaemon.start(config, Map.of())) {
      String base = "http://127.0.0.1:" + child.awaitReady(WAIT);
      String metrics = get(http, base + "/metrics").body;
      for (String outcome :
          List.of("success", "bad_request", "not_ready", "queue_full", "timeout", "error")) {
        assertThat(metrics)
            .contains(
                "modelcache_inference_requests_total{model=\"iris\",outcome=\""
                    + outcome
                    + "\"} 0.0");
      }
      assertThat(metrics)
          .contains("modelcache_inference_duration_seconds_count{model=\"iris\"} 0")
          .contains("modelcache_config_reload_total{outcome=\"success\"} 0.0")
          .contains("modelcache_config_reload_total{outcome=\"failure\"} 0.0");

      Files.writeString(config, yaml(tmp, "", model("iris", iris) + model("extra", iris)));
      hup(child);
      Poll.until(WAIT, EVERY, "extra answers", () -> infer(http, base, "extra").code == 200);
      assertThat(get(http, base + "/metrics").body)
          .contains("modelcache_inference_requests_total{model=\"extra\",outcome=\"error\"} 0.0")
          .contains("modelcache_config_reload_total{outcome=\"success\"} 1.0");

      Files.writeString(config, yaml(tmp, "", model("extra", iris)));
      hup(child);
      Poll.until(WAIT, EVERY, "iris is gone", () -> infer(http, base, "iris").code == 404);
      child.awaitMessage(
          m -> m.equals("iris - removed from the config: drained and unloaded"), WAIT);
      assertThat(infer(http, base, "extra").code).isEqualTo(200);
      assertThat(get(http, base + "/metrics").body).doesNotContain("model=\"iris\"");
      assertThat(get(http, base + "/health").body).doesNotContain("\"iris\"");

      Files.writeString(config, "models: [\n");
      hup(child);
      JsonNode refused =
          child.awaitMessage(m -> m.startsWith("config reload (SIGHUP) refused"), WAIT);
      assertThat(refused.path("level").asText()).isEqualTo("ERROR");
      assertFailures(http, base, 1);

      Files.writeString(config, yaml(tmp, "", model("extra", iris)) + "colour: blue\n");
      hup(child);
      Poll.until(WAIT, EVERY, "second refusal", () -> failures(http, base) == 2);
      // the metric can move before the child's log line reaches the reader: wait for the line
      child.awaitMessage(
          m -> m.startsWith("config reload (SIGHUP) refused") && m.contains("colour"), WAIT);
      assertThat(refusals(child)).hasSize(2);

      Files.writeString(config, yaml(tmp, "  port: 9\n", model("extra", iris)));
      hup(child);
      Poll.until(WAIT, EVERY, "third refusal", () -> failures(http, base) == 3);
      child.awaitMessage(
          m ->
              m.startsWith("config reload (SIGHUP) refused")
                  && m.contains("restart to change server.port"),
          WAIT);
      assertThat(refusals(child)).hasSize(3);
      assertThat(infer(http, base, "extra").code).isEqualTo(200);
      assertThat(infer(http, base, "iris").code).isEqualTo(404);
    }
  }

  @Test
  void aDaemonStartedUnderNohupSaysThatSighupWillNotReloadIt() throws Exception {
    Path iris = TestModels.copy("iris", tmp.resolve("src-nohup"));
    Path config = tmp.resolve("nohup.yaml");
    Files.writeString(config, yaml(tmp, "", model("iris", iris)));
    List<String> command = new ArrayList<>(List.of("nohup"));
    command.addAll(ChildJvm.java());
    command.addAll(
        List.of(
            "-Xmx512m",
            "-Dai.djl.offline=true",
            "-cp",
            System.getProperty("java.class.path"),
            Main.class.getName(),
            "serve",
            "-c",
            config.toString()));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder
        .environment()
        .keySet()
        .removeIf(name -> name.startsWith("MODELCACHE_") || name.startsWith("AWS_"));
    try (ChildDaemon child = ChildDaemon.start(builder)) {
      JsonNode warning = child.awaitMessage(m -> m.startsWith("SIGHUP is ignored"), WAIT);
      assertThat(warning.path("level").asText()).isEqualTo("WARN");
      assertThat(warning.path("message").asText()).contains("server.reload.watch: true");
    }
  }

  @Test
  void aChangeOfTheWatchedConfigFileReloadsIt() throws Exception {
    Path iris = TestModels.copy("iris", tmp.resolve("src"));
    Path config = tmp.resolve("modelcache.yaml");
    String watch = "  reload:\n    watch: true\n    debounce_ms: 200\n";
    Files.writeString(config, yaml(tmp, watch, model("iris", iris)));
    OkHttpClient http = client();
    try (ChildDaemon child = ChildDaemon.start(config, Map.of())) {
      String base = "http://127.0.0.1:" + child.awaitReady(WAIT);
      // the watch is registered just after the daemon starts: an edit before that is not seen
      child.awaitMessage(m -> m.startsWith("watching ") && m.contains("server.reload.watch"), WAIT);
      Files.writeString(config, yaml(tmp, watch, model("iris", iris) + model("extra", iris)));
      Poll.until(WAIT, EVERY, "extra answers", () -> infer(http, base, "extra").code == 200);
      child.awaitMessage(m -> m.startsWith("config reloaded (change of modelcache.yaml)"), WAIT);
      // an editor's writes may make more than one reload, but never a refused one
      assertThat(get(http, base + "/metrics").body)
          .contains("modelcache_config_reload_total{outcome=\"failure\"} 0.0")
          .doesNotContain("modelcache_config_reload_total{outcome=\"success\"} 0.0");
    }
  }

  private static List<String> refusals(ChildDaemon child) {
    return child.lines().stream()
        .map(ChildDaemon::parse)
        .filter(n -> n != null && n.path("message").asText().startsWith("config reload"))
        .filter(n -> n.path("message").asText().contains("refused"))
        .map(n -> n.path("message").asText())
        .toList();
  }

  private static void assertFailures(OkHttpClient http, String base, int count) throws Exception {
    Poll.until(WAIT, EVERY, count + " refused reloads", () -> failures(http, base) == count);
  }

  private static int failures(OkHttpClient http, String base) throws IOException {
    String metrics = get(http, base + "/metrics").body;
    String prefix = "modelcache_config_reload_total{outcome=\"failure\"} ";
    int at = metrics.indexOf(prefix);
    return at < 0
        ? -1
        : (int) Double.parseDouble(metrics.substring(at + prefix.length()).split("\n")[0]);
  }

  /** A config with the cache under {@code tmp}, port 0, {@code server} lines added. */
  static String yaml(Path tmp, String server, String models) {
    return "cache:\n  dir: "
        + tmp.resolve("cache")
        + "\nserver:\n  host: 127.0.0.1\n  shutdown_grace_seconds: 10\n"
        + (server.contains("port:") ? server : "  port: 0\n" + server)
        + "models:\n"
        + models;
  }

  static String model(String name, Path dir) {
    return "  - name: " + name + "\n    source: file:" + dir + "\n";
  }

  static void hup(ChildDaemon child) throws Exception {
    Process kill =
        new ProcessBuilder("kill", "-HUP", Long.toString(child.process().pid()))
            .inheritIO()
            .start();
    assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(kill.exitValue()).isZero();
  }

  static OkHttpClient client() {
    return new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
  }

  record Reply(int code, String body) {
    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }
  }

  static Reply get(OkHttpClient http, String url) throws IOException {
    try (Response response = http.newCall(new Request.Builder().url(url).build()).execute()) {
      return new Reply(response.code(), response.body().string());
    }
  }

  static Reply infer(OkHttpClient http, String base, String model) throws IOException {
    Request request =
        new Request.Builder()
            .url(base + "/inference/" + model)
            .post(RequestBody.create(INPUT, JSON_TYPE))
            .build();
    try (Response response = http.newCall(request).execute()) {
      return new Reply(response.code(), response.body().string());
    }
  }
}
