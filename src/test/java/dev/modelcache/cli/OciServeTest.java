package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.inference.ModelState;
import dev.modelcache.source.oci.OciFront;
import dev.modelcache.source.oci.OciRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Base64;
import java.util.LinkedHashMap;
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
 * The real iris TorchScript model pushed as an ORAS-style artifact to a real registry on loopback,
 * served from {@code oci://}: behind a {@code Bearer} challenge answered with the login of a Docker
 * {@code config.json}, through a cut connection resumed with {@code Range}, it answers {@code
 * /inference} as PyTorch did.
 */
class OciServeTest {
  @TempDir Path tmp;

  @Test
  void aTorchScriptModelFromARegistryAnswersAsPyTorchDid() throws Exception {
    try (OciRegistry registry = OciRegistry.start(tmp);
        OciFront front = OciFront.start(registry)) {
      Map<String, byte[]> files = new LinkedHashMap<>();
      for (String name : List.of("model.pt", "config.json")) {
        files.put(name, Files.readAllBytes(TestModels.MODELS.resolve("iris").resolve(name)));
      }
      String digest = registry.push("team/iris", "v1", files);
      front.requireBearer("bob", "pw-serve-9").cutOnce(TestModels.sha256("iris", "model.pt"), 1000);
      Path dockerConfig = Files.createDirectories(tmp.resolve("docker")).resolve("config.json");
      Files.writeString(
          dockerConfig,
          "{\"auths\": {\"http://"
              + front.host()
              + "\": {\"auth\": \""
              + Base64.getEncoder()
                  .encodeToString("bob:pw-serve-9".getBytes(StandardCharsets.UTF_8))
              + "\"}}}");
      String yaml =
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n  - name: iris\n    source: oci://"
              + front.host()
              + "/team/iris:v1\n";
      // DOCKER_CONFIG names the folder, as for the docker CLI
      Config config =
          new ConfigLoader(Map.of("DOCKER_CONFIG", dockerConfig.getParent().toString()), tmp)
              .parse(yaml, "test config", tmp);
      try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
        daemon.prepared().get(60, TimeUnit.SECONDS);
        assertThat(daemon.states().status("iris").state()).isEqualTo(ModelState.READY);
        try (Response models =
            new OkHttpClient()
                .newCall(
                    new Request.Builder()
                        .url("http://127.0.0.1:" + daemon.port() + "/models/iris")
                        .build())
                .execute()) {
          assertThat(new ObjectMapper().readTree(models.body().string()).get("revision").asText())
              .as("the snapshot is the manifest's digest")
              .isEqualTo(digest);
        }
        JsonNode reference = TestModels.reference("iris").get("cases").get(1);
        Request request =
            new Request.Builder()
                .url("http://127.0.0.1:" + daemon.port() + "/inference/iris")
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
      }
      long size = files.get("model.pt").length;
      assertThat(front.requests())
          .filteredOn(r -> r.path().endsWith(TestModels.sha256("iris", "model.pt")))
          .filteredOn(r -> ("Bearer " + OciFront.TOKEN).equals(r.authorization()))
          .extracting(OciFront.Recorded::range)
          .as("resumed after the cut")
          .containsExactly(null, "bytes=1000-" + (size - 1));
    }
  }
}
