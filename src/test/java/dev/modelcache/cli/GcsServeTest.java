package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.source.s3.FaultProxy;
import dev.modelcache.source.s3.S3Server;
import dev.modelcache.store.Lockfile;
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
 * The real iris TorchScript model served from {@code gs://}: a daemon at {@code LOG_LEVEL=DEBUG}
 * with an HMAC key in {@code GCS_HMAC_ACCESS_ID}/{@code GCS_HMAC_SECRET} fetches it through the XML
 * API (played by the S3 test server: no GCS emulator is reachable from this build's package
 * registries) across a cut connection, answers {@code /inference} as PyTorch did, and logs neither
 * part of the key.
 */
class GcsServeTest {
  private static final String ACCESS_ID = S3Server.IDENTITY;
  private static final String SECRET = S3Server.SECRET;

  @TempDir Path tmp;

  @Test
  void aTorchScriptModelFromGcsAnswersAsPyTorchDidAndNoKeyIsLogged() throws Exception {
    List<String> lines;
    try (S3Server server = S3Server.start();
        FaultProxy proxy = FaultProxy.start(server.port())) {
      server.bucket("models");
      for (String name : List.of("model.pt", "config.json")) {
        byte[] bytes = Files.readAllBytes(TestModels.MODELS.resolve("iris").resolve(name));
        server.put("models", "zoo/iris/" + name, bytes, false);
      }
      proxy.fault(FaultProxy.cut("GET", "/models/zoo/iris/model.pt", 1000));
      Path config = tmp.resolve("modelcache.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  gcs:\n    endpoint: "
              + proxy.endpoint()
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
              Map.of(
                  "LOG_LEVEL",
                  "DEBUG",
                  "GCS_HMAC_ACCESS_ID",
                  ACCESS_ID,
                  "GCS_HMAC_SECRET",
                  SECRET))) {
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
      assertThat(proxy.requests())
          .as("resumed after the cut")
          .anyMatch(r -> r.startsWith("GET /models/zoo/iris/model.pt range=bytes="));
    }
    assertThat(tmp.resolve("cache/gcs/models--zoo--iris/snapshots")).isDirectory();
    assertThat(lines)
        .as("LOG_LEVEL=DEBUG took effect")
        .anyMatch(line -> "DEBUG".equals(ChildDaemon.parse(line).path("level").asText()));
    assertThat(lines).noneMatch(line -> line.contains(SECRET) || line.contains(ACCESS_ID));
  }

  @Test
  void trustOnFirstUseIsRecordedWithTheEtagThenFrozenHoldsToIt() throws Exception {
    try (S3Server server = S3Server.start()) {
      server.bucket("models");
      byte[] weights = Files.readAllBytes(TestModels.MODELS.resolve("iris/model.pt"));
      server.put("models", "m/model.pt", weights, false);
      Path config = tmp.resolve("modelcache.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  gcs:\n    endpoint: "
              + server.endpoint()
              + "\n    hmac_access_id: "
              + ACCESS_ID
              + "\n    hmac_secret: "
              + SECRET
              + "\nmodels:\n  - name: m\n    source: gs://models/m\n");

      CliRun first = CliRun.of("fetch", "-c", config.toString());
      assertThat(first.code()).as(first.err()).isZero();
      Lockfile.Locked locked = Lockfile.read(tmp.resolve("modelcache.lock")).model("m").get();
      assertThat(locked.source()).isEqualTo("gs://models/m");
      assertThat(locked.files().get(0).sha256()).isEqualTo(TestModels.sha256("iris", "model.pt"));
      assertThat(locked.files().get(0).etag()).isNotBlank();
      assertThat(CliRun.of("fetch", "--frozen", "-c", config.toString()).code()).isZero();

      server.put("models", "m/model.pt", new byte[] {1, 2, 3}, false);
      CliRun refused = CliRun.of("fetch", "--frozen", "-c", config.toString());
      assertThat(refused.code()).isEqualTo(1);
      assertThat(refused.err())
          .startsWith(
              "FAILED m: m - upstream no longer matches modelcache.lock (--frozen): model.pt: "
                  + weights.length
                  + " bytes in modelcache.lock, 3 upstream");
    }
  }
}
