package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.source.gcs.FakeGcs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * The real iris TorchScript model served from {@code gs://} without an HMAC key: a daemon at {@code
 * LOG_LEVEL=DEBUG} whose {@code GOOGLE_APPLICATION_CREDENTIALS} names a service account key (its
 * {@code token_uri} the fake's) reads it through Cloud Storage's JSON API, played by {@link
 * FakeGcs} (no GCS emulator is reachable from this build's package registries), across a cut
 * connection and a corrupted body, answers {@code /inference} as PyTorch did, and logs neither the
 * key nor the token.
 */
class GcsJsonServeTest {
  @TempDir Path tmp;

  @Test
  void aTorchScriptModelThroughTheJsonApiAnswersAsPyTorchDidAndNoSecretIsLogged() throws Exception {
    List<String> lines;
    String privateKey;
    long ptSize = Files.size(TestModels.MODELS.resolve("iris/model.pt"));
    try (FakeGcs gcs = FakeGcs.start()) {
      for (String name : List.of("model.pt", "config.json")) {
        byte[] bytes = Files.readAllBytes(TestModels.MODELS.resolve("iris").resolve(name));
        gcs.put("models", "zoo/iris/" + name, bytes);
      }
      gcs.requireBearer(true);
      gcs.cutOnce("zoo/iris/model.pt", 1000);
      gcs.corrupt("zoo/iris/config.json", 1);
      Path key = tmp.resolve("sa.json");
      privateKey = gcs.writeServiceAccount(key);
      Path config = tmp.resolve("modelcache.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  gcs:\n    json_endpoint: "
              + gcs.endpoint()
              + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
              + "  - name: iris\n    source: gs://models/zoo/iris\n"
              + "    include: ['*.pt', '*.json']\n    sha256:\n      model.pt: "
              + TestModels.sha256("iris", "model.pt")
              + "\n      config.json: "
              + TestModels.sha256("iris", "config.json")
              + "\n");
      try (ChildDaemon child =
          ChildDaemon.start(
              config,
              Map.of("LOG_LEVEL", "DEBUG", "GOOGLE_APPLICATION_CREDENTIALS", key.toString()))) {
        String base = "http://127.0.0.1:" + child.awaitReady(Duration.ofSeconds(120));
        JsonNode reference = TestModels.reference("iris").get("cases").get(1);
        Request request =
            new Request.Builder()
                .url(base + "/inference/iris")
                .post(
                    RequestBody.create(
                        "{\"inputs\": " + reference.get("inputs") + "}",
                        MediaType.get("application/json")))
                .build();
        try (Response response = new OkHttpClient().newCall(request).execute()) {
          assertThat(response.code()).isEqualTo(200);
          JsonNode answer = new ObjectMapper().readTree(response.body().string());
          for (int i = 0; i < 3; i++) {
            assertThat(answer.get("outputs").get(i).asDouble())
                .isCloseTo(reference.get("probabilities").get(i).asDouble(), within(1e-5));
          }
        }
        child.sigterm();
        assertThat(child.awaitExit(Duration.ofSeconds(30))).isZero();
        lines = child.lines();
      }
      assertThat(gcs.minted()).isNotEmpty();
      assertThat(gcs.requests())
          .as("the Bearer token reached every API request")
          .filteredOn(r -> r.target().startsWith("/storage/v1/"))
          .isNotEmpty()
          .allMatch(r -> r.authorization().startsWith("Bearer ya29.fake-"));
      assertThat(gcs.requests())
          .as("resumed after the cut")
          .anyMatch(
              r ->
                  r.target().contains("model.pt?alt=media")
                      && r.range().equals("bytes=1000-" + (ptSize - 1)));
      assertThat(lines)
          .as("the corrupted body was refetched")
          .anyMatch(line -> line.contains("config.json: CRC32C mismatch"));
      List<String> secrets = new java.util.ArrayList<>(gcs.minted());
      secrets.add(privateKey.substring(0, 40));
      secrets.addAll(gcs.assertions());
      assertThat(lines)
          .as("LOG_LEVEL=DEBUG took effect")
          .anyMatch(line -> "DEBUG".equals(ChildDaemon.parse(line).path("level").asText()));
      for (String secret : secrets) {
        assertThat(lines).noneMatch(line -> line.contains(secret));
      }
    }
    assertThat(tmp.resolve("cache/gcs/models--zoo--iris/snapshots")).isDirectory();
  }
}
