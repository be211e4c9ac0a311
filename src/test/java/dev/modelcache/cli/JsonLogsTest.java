package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon as a container runs it with {@code LOG_FORMAT=json}: every stderr line is one JSON
 * object, a request's lines carry its id and model, and no secret reaches a log line, an error body
 * or the metrics.
 */
class JsonLogsTest {
  private static final String API_TOKEN = "api-token-7f3a9c1e5b";
  private static final String HF_TOKEN = "hf_token_2d8e6b4a0c";
  private static final MediaType JSON = MediaType.get("application/json");

  @TempDir Path tmp;
  private final OkHttpClient http = new OkHttpClient();

  @Test
  void everyLineIsJsonWithRequestIdAndModelAndNoSecret() throws Exception {
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src"))));
    List<String> bodies = new ArrayList<>();
    int exit;
    List<String> lines;
    try (ChildDaemon child =
        ChildDaemon.start(config, Map.of("MODELCACHE_TOKEN", API_TOKEN, "HF_TOKEN", HF_TOKEN))) {
      String base = "http://127.0.0.1:" + child.awaitReady(Duration.ofSeconds(60));
      Request.Builder infer =
          new Request.Builder()
              .url(base + "/inference/iris")
              .header("X-Request-Id", "json-logs-42")
              .post(RequestBody.create("{\"inputs\": [5.1, 3.4, 1.5, 0.2]}", JSON));
      try (Response ok =
          http.newCall(infer.header("Authorization", "Bearer " + API_TOKEN).build()).execute()) {
        assertThat(ok.code()).isEqualTo(200);
        assertThat(ok.header("X-Request-Id")).isEqualTo("json-logs-42");
      }
      try (Response wrong =
          http.newCall(infer.header("Authorization", "Bearer " + HF_TOKEN).build()).execute()) {
        assertThat(wrong.code()).isEqualTo(401);
        String body = wrong.body().string();
        assertThat(body).isEqualTo("{\"error\":\"the bearer token is wrong\"}");
        bodies.add(body);
      }
      try (Response metrics =
          http.newCall(new Request.Builder().url(base + "/metrics").build()).execute()) {
        assertThat(metrics.code()).isEqualTo(200);
        bodies.add(metrics.body().string());
      }
      child.awaitMessage(m -> m.startsWith("POST /inference/iris - 401"), Duration.ofSeconds(10));
      child.sigterm();
      exit = child.awaitExit(Duration.ofSeconds(30));
      lines = child.lines();
    }

    assertThat(exit).as(String.join("\n", lines)).isZero();
    assertThat(lines).isNotEmpty();
    List<JsonNode> events = new ArrayList<>();
    for (String line : lines) {
      JsonNode event = ChildDaemon.parse(line);
      assertThat(event).as("a JSON object: " + line).isNotNull();
      assertThat(event.isObject()).as(line).isTrue();
      assertThat(event.path("@timestamp").isTextual()).as(line).isTrue();
      assertThat(event.path("level").asText()).as(line).isIn("DEBUG", "INFO", "WARN", "ERROR");
      assertThat(line).doesNotContain(API_TOKEN).doesNotContain(HF_TOKEN);
      events.add(event);
    }
    assertThat(events)
        .anySatisfy(
            e -> {
              assertThat(e.path("request_id").asText()).isEqualTo("json-logs-42");
              assertThat(e.path("model").asText()).isEqualTo("iris");
              assertThat(e.path("logger_name").asText()).isEqualTo("dev.modelcache.access");
              assertThat(e.path("message").asText())
                  .matches("POST /inference/iris - 200 in \\d+ ms");
            });
    assertThat(events)
        .anySatisfy(
            e -> {
              assertThat(e.path("model").asText()).isEqualTo("iris");
              assertThat(e.path("message").asText()).startsWith("iris - READY: model.pt");
            });
    assertThat(events)
        .as("the config is logged with its secrets masked")
        .anySatisfy(
            e ->
                assertThat(e.path("message").asText())
                    .contains("sources.hf.token=****")
                    .doesNotContain(HF_TOKEN));
    for (String body : bodies) {
      assertThat(body).doesNotContain(API_TOKEN).doesNotContain(HF_TOKEN);
    }
  }
}
