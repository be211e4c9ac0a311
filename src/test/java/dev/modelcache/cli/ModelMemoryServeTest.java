package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
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
 * {@code server.max_model_memory} in a serving daemon: the small iris model loads and reports its
 * memory in {@code /models} and {@code modelcache_model_memory_bytes}; the MiniLM ONNX model, whose
 * file alone is larger than the limit, is FAILED with the reason in {@code /health} and {@code
 * /models}, and since it is not required the daemon is ready and iris serves.
 */
class ModelMemoryServeTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private final OkHttpClient http =
      new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();

  @TempDir Path tmp;

  @Test
  void aModelOverTheLimitFailsWithTheReasonAndTheOthersServeWithTheirMemoryReported()
      throws Exception {
    Path sources = tmp.resolve("sources");
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  max_model_memory: 64MiB\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", sources))
            + "  - {name: minilm, source: 'file:"
            + TestModels.minilm(sources)
            + "', task: text-embedding, required: false}\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    assertThat(config.server().maxModelMemory()).isEqualTo(64L << 20);
    try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
      daemon.prepared().get(120, TimeUnit.SECONDS);
      String base = "http://127.0.0.1:" + daemon.port();

      JsonNode iris = get(base + "/models/iris", 200);
      System.out.println("iris memory in /models: " + iris.get("memory"));
      JsonNode memory = iris.get("memory");
      assertThat(memory.get("total_bytes").asLong())
          .isPositive()
          .isEqualTo(
              Math.max(
                  memory.get("native_bytes").asLong() + memory.get("heap_bytes").asLong(),
                  memory.get("file_bytes").asLong()));
      assertThat(memory.get("file_bytes").asLong()).isEqualTo(8094);
      assertThat(memory.get("method").asText()).isEqualTo("rss-delta-at-load");
      String revision = iris.get("revision").asText();
      assertThat(get(base + "/metrics"))
          .contains(
              "modelcache_model_memory_bytes{model=\"iris\",revision=\""
                  + revision
                  + "\"} "
                  + (double) memory.get("total_bytes").asLong())
          .doesNotContain("modelcache_model_memory_bytes{model=\"minilm\"");

      String reason =
          "minilm - its model file model.onnx is 86.2 MiB, over server.max_model_memory 64.0 MiB,"
              + " and loaded it takes at least that much: not loaded; raise"
              + " server.max_model_memory or serve a smaller model (a quantised or smaller"
              + " variant)";
      JsonNode minilm = get(base + "/models/minilm", 200);
      assertThat(minilm.get("state").asText()).isEqualTo("FAILED");
      assertThat(minilm.get("reason").asText()).isEqualTo(reason);
      assertThat(minilm.has("memory")).isFalse();
      JsonNode health = get(base + "/health", 200);
      assertThat(health.toString()).contains(reason);
      assertThat(get(base + "/health/ready")).isNotEmpty(); // 200: minilm is not required

      try (Response answer =
          http.newCall(
                  new Request.Builder()
                      .url(base + "/inference/iris")
                      .post(
                          RequestBody.create(
                              "{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}",
                              MediaType.get("application/json")))
                      .build())
              .execute()) {
        assertThat(answer.code()).isEqualTo(200);
      }
    }
  }

  private JsonNode get(String url, int status) throws IOException {
    try (Response response = http.newCall(new Request.Builder().url(url).build()).execute()) {
      String body = response.body().string();
      assertThat(response.code()).as(body).isEqualTo(status);
      return MAPPER.readTree(body);
    }
  }

  private String get(String url) throws IOException {
    try (Response response = http.newCall(new Request.Builder().url(url).build()).execute()) {
      String body = response.body().string();
      assertThat(response.code()).as(url + ": " + body).isEqualTo(200);
      return body;
    }
  }
}
