package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.PythonVenv;
import dev.modelcache.TestModels;
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
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NVIDIA's own HTTP client, {@code tritonclient[http]}, against a live daemon with its defaults
 * (binary inputs and outputs, Triton's binary tensor data extension) and with {@code
 * binary_data=False}: health, metadata and inference, whose numbers must be those of {@code
 * /inference}. Skips where the package cannot be installed from the machine's package index.
 */
class TritonClientTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final PythonVenv VENV =
      PythonVenv.of(
          "tritonhttp",
          "import tritonclient.http, importlib.metadata;"
              + " print(importlib.metadata.version('tritonclient'))",
          "tritonclient[http]");

  private static final String SCRIPT =
      """
      import json, os
      import numpy as np
      import tritonclient.http as http

      client = http.InferenceServerClient(url=os.environ["TRITON_URL"])
      out = {
          "live": client.is_server_live(),
          "ready": client.is_server_ready(),
          "model_ready": client.is_model_ready("iris"),
          "server": client.get_server_metadata(),
          "model": client.get_model_metadata("iris"),
      }
      rows = np.array(json.loads(os.environ["IRIS_ROWS"]), dtype=np.float32)
      for binary in (True, False):
          given = http.InferInput("input0", list(rows.shape), "FP32")
          given.set_data_from_numpy(rows, binary_data=binary)
          wanted = None if binary else [http.InferRequestedOutput("output0", binary_data=False)]
          result = client.infer("iris", [given], outputs=wanted)
          key = "binary" if binary else "json"
          out["iris_" + key] = result.as_numpy("output0").tolist()
          out["iris_" + key + "_response"] = result.get_response()
      texts = np.array([t.encode() for t in json.loads(os.environ["TEXTS"])], dtype=np.object_)
      given = http.InferInput("text", [len(texts)], "BYTES")
      given.set_data_from_numpy(texts)
      result = client.infer("sentiment", [given])
      out["labels"] = [b.decode() for b in result.as_numpy("label").reshape(-1)]
      out["scores"] = result.as_numpy("score").tolist()
      print(json.dumps(out))
      """;

  @TempDir Path tmp;

  @Test
  void tritonclientHttpTalksToTheDaemonWithItsDefaultsAndWithJson() throws Exception {
    Optional<Path> python = VENV.python();
    Assumptions.assumeTrue(python.isPresent(), () -> "tritonclient[http]: " + VENV.reason());
    Path sources = tmp.resolve("sources");
    var config =
        TestModels.config(
            tmp.resolve("cache"),
            TestModels.modelYaml("iris", TestModels.copy("iris", sources))
                + "  - {name: sentiment, source: 'file:"
                + TestModels.copy("sentiment", sources)
                + "', task: text-classification, task_options: {top_k: 1}}\n");
    try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
      daemon.prepared().get(120, TimeUnit.SECONDS);
      String rows = "[[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4], [6.3, 3.3, 6.0, 2.5]]";
      String texts = "[\"What a wonderful day!\", \"The service was terrible.\"]";
      PythonVenv.Result run =
          PythonVenv.run(
              python.get(),
              SCRIPT,
              Map.of("TRITON_URL", "127.0.0.1:" + daemon.port(), "IRIS_ROWS", rows, "TEXTS", texts),
              Duration.ofSeconds(120));
      assertThat(run.ok()).as(run.output()).isTrue();
      String[] lines = run.output().strip().split("\n");
      JsonNode out = MAPPER.readTree(lines[lines.length - 1]);

      assertThat(out.get("live").asBoolean()).isTrue();
      assertThat(out.get("ready").asBoolean()).isTrue();
      assertThat(out.get("model_ready").asBoolean()).isTrue();
      assertThat(out.get("server").get("extensions").toString()).contains("binary_tensor_data");
      assertThat(out.get("model").get("inputs").get(0).get("name").asText()).isEqualTo("input0");
      assertThat(out.get("iris_binary_response").get("outputs").get(0).has("parameters")).isTrue();
      assertThat(out.get("iris_json_response").get("outputs").get(0).has("data")).isTrue();

      OkHttpClient http = new OkHttpClient();
      JsonNode expected = post(http, daemon.port(), "/inference/iris", rows).get("outputs");
      for (String key : new String[] {"iris_binary", "iris_json"}) {
        for (int r = 0; r < 3; r++) {
          for (int c = 0; c < 3; c++) {
            assertThat(out.get(key).get(r).get(c).floatValue())
                .as("%s row %d class %d", key, r, c)
                .isEqualTo(expected.get(r).get(c).floatValue());
          }
        }
      }
      JsonNode labels = post(http, daemon.port(), "/inference/sentiment", texts).get("outputs");
      for (int i = 0; i < 2; i++) {
        assertThat(out.get("labels").get(i).asText())
            .isEqualTo(labels.get(i).get(0).get("label").asText());
        assertThat(out.get("scores").get(i).get(0).asDouble())
            .isCloseTo(labels.get(i).get(0).get("score").asDouble(), within(1e-6));
      }
    }
  }

  private static JsonNode post(OkHttpClient http, int port, String path, String inputs)
      throws Exception {
    Request request =
        new Request.Builder()
            .url("http://127.0.0.1:" + port + path)
            .post(
                RequestBody.create(
                    "{\"inputs\": " + inputs + "}", MediaType.get("application/json")))
            .build();
    try (Response response = http.newCall(request).execute()) {
      String body = response.body().string();
      assertThat(response.code()).as(body).isEqualTo(200);
      return MAPPER.readTree(body);
    }
  }
}
