package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.OnnxGraphs;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
 * Batching never changes answers. A dynamically quantised graph (one int8 scale over the whole
 * pass, as in the int8 ONNX exports of bge-small or e5-small) and a graph that centres on the
 * batch's mean would answer each request differently when batched with others: they are found at
 * load, by the graph and by the probe, and run every item alone (said at load and in {@code
 * /models}); a row-wise graph keeps its batching.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BatchingAnswersTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final MediaType JSON = MediaType.get("application/json");
  private static final List<String> ROWS =
      List.of(
          "[0.01, 0.02, 0.03, 0.04]", "[100, 200, 300, 400]", "[-5, 7.5, 0.25, 3]", "[1, 1, 1, 1]");

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;
  private List<String> logged;

  @BeforeAll
  void start() throws Exception {
    StringBuilder models = new StringBuilder();
    for (var graph :
        Map.of(
                "dynquant", OnnxGraphs.DYNAMIC_QUANTIZE,
                "centred", OnnxGraphs.BATCH_CENTRED,
                "rowwise", OnnxGraphs.ROW_WISE)
            .entrySet()) {
      models
          .append("  - {name: ")
          .append(graph.getKey())
          .append(", source: 'file:")
          .append(
              OnnxGraphs.model(tmp.resolve("sources").resolve(graph.getKey()), graph.getValue()))
          .append("', workers: 1, batch: {max_size: 8, max_delay_ms: 300}}\n");
    }
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + models;
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    try (LogCapture log = new LogCapture(ModelRegistry.class)) {
      daemon = new Daemon(config, Clock.systemUTC()).start();
      daemon.prepared().get(120, TimeUnit.SECONDS);
      logged = log.lines();
    }
    http = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
    base = "http://127.0.0.1:" + daemon.port();
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  private JsonNode get(String path) throws IOException {
    try (Response response =
        http.newCall(new Request.Builder().url(base + path).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
      return MAPPER.readTree(response.body().string());
    }
  }

  private JsonNode infer(String model, String row) {
    Request request =
        new Request.Builder()
            .url(base + "/inference/" + model)
            .post(RequestBody.create("{\"inputs\": [" + row + "]}", JSON))
            .build();
    try (Response response = http.newCall(request).execute()) {
      String body = response.body().string();
      assertThat(response.code()).as(body).isEqualTo(200);
      return MAPPER.readTree(body).get("outputs");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Each row's answer alone, then the four rows sent at once: the same answers. */
  private void concurrentAnswersEqualSingleOnes(String model) throws Exception {
    List<JsonNode> alone = new ArrayList<>();
    for (String row : ROWS) {
      alone.add(infer(model, row));
    }
    List<CompletableFuture<JsonNode>> together = new ArrayList<>();
    for (String row : ROWS) {
      together.add(CompletableFuture.supplyAsync(() -> infer(model, row)));
    }
    for (int i = 0; i < ROWS.size(); i++) {
      assertThat(together.get(i).get(30, TimeUnit.SECONDS))
          .as(model + " row " + ROWS.get(i) + " sent with the others")
          .isEqualTo(alone.get(i));
    }
  }

  @Test
  void aDynamicallyQuantisedModelIsNeverBatched() throws Exception {
    JsonNode batch = get("/models/dynquant").get("batch");
    assertThat(batch.get("max_size").asInt()).isEqualTo(8);
    assertThat(batch.get("effective_max_size").asInt()).isEqualTo(1);
    assertThat(batch.get("unbatched_reason").asText())
        .isEqualTo(
            "its ONNX graph quantises activations at run time (DynamicQuantizeLinear), with one"
                + " scale for every item of a pass");
    assertThat(logged)
        .contains(
            "WARN dynquant - batching would change its answers: its ONNX graph quantises"
                + " activations at run time (DynamicQuantizeLinear), with one scale for every item"
                + " of a pass; batch.max_size 8 is lowered to 1, so that every item runs alone and"
                + " gets the answer it gets alone");
    concurrentAnswersEqualSingleOnes("dynquant");
  }

  @Test
  void aModelWhoseBatchedAnswersDifferIsFoundByTheProbe() throws Exception {
    JsonNode batch = get("/models/centred").get("batch");
    assertThat(batch.get("effective_max_size").asInt()).isEqualTo(1);
    assertThat(batch.get("unbatched_reason").asText())
        .startsWith("3 items run together answer differently from each run alone (by up to ")
        .endsWith(", beyond float tolerance)");
    concurrentAnswersEqualSingleOnes("centred");
  }

  @Test
  void aRowWiseModelKeepsItsBatching() throws Exception {
    JsonNode batch = get("/models/rowwise").get("batch");
    assertThat(batch.get("effective_max_size").asInt()).isEqualTo(8);
    assertThat(batch.has("unbatched_reason")).isFalse();
    assertThat(logged).noneMatch(line -> line.startsWith("WARN rowwise"));
    concurrentAnswersEqualSingleOnes("rowwise");
  }
}
