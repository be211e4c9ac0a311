package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.source.azure.Azurite;
import dev.modelcache.source.s3.FaultProxy;
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
 * The real iris TorchScript model in Azurite: a daemon at {@code LOG_LEVEL=DEBUG}, its credential a
 * connection string in {@code AZURE_STORAGE_CONNECTION_STRING}, fetches it through a cut
 * connection, answers {@code /inference} as PyTorch did, and never logs the account key.
 */
class AzureServeTest {
  @TempDir Path tmp;

  @Test
  void aTorchScriptModelFromAzureAnswersAndTheKeyIsNeverLogged() throws Exception {
    List<String> lines;
    try (Azurite azurite = Azurite.start(tmp);
        FaultProxy proxy = FaultProxy.start(azurite.port())) {
      for (String name : new String[] {"model.pt", "config.json"}) {
        azurite.put(
            "models",
            "iris/" + name,
            Files.readAllBytes(TestModels.MODELS.resolve("iris").resolve(name)));
      }
      proxy.fault(FaultProxy.cut("GET", "/devstoreaccount1/models/iris/model.pt", 2000));
      String connection =
          "DefaultEndpointsProtocol=http;AccountName="
              + Azurite.ACCOUNT
              + ";AccountKey="
              + Azurite.KEY
              + ";BlobEndpoint=http://127.0.0.1:"
              + proxy.endpoint().getPort()
              + "/"
              + Azurite.ACCOUNT
              + ";";
      Path config = tmp.resolve("modelcache.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
              + "  - name: iris\n    source: az://devstoreaccount1/models/iris\n"
              + "    sha256:\n      model.pt: "
              + TestModels.sha256("iris", "model.pt")
              + "\n");
      try (ChildDaemon child =
          ChildDaemon.start(
              config,
              Map.of("LOG_LEVEL", "DEBUG", "AZURE_STORAGE_CONNECTION_STRING", connection))) {
        String base = "http://127.0.0.1:" + child.awaitReady(Duration.ofSeconds(120));
        JsonNode reference = TestModels.reference("iris").get("cases").get(1);
        try (Response response =
            new OkHttpClient()
                .newCall(
                    new Request.Builder()
                        .url(base + "/inference/iris")
                        .post(
                            RequestBody.create(
                                "{\"inputs\": " + reference.get("inputs") + "}",
                                MediaType.get("application/json")))
                        .build())
                .execute()) {
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
      assertThat(
              proxy.requests().stream()
                  .filter(r -> r.startsWith("GET /devstoreaccount1/models/iris/model.pt")))
          .as("cut once, then fetched again")
          .hasSizeGreaterThanOrEqualTo(2);
    }
    assertThat(lines)
        .as("LOG_LEVEL=DEBUG took effect")
        .anyMatch(line -> "DEBUG".equals(ChildDaemon.parse(line).path("level").asText()));
    List<String> found = new ArrayList<>();
    for (String line : lines) {
      if (line.contains(Azurite.KEY) || line.contains("AccountKey=")) {
        found.add(line.length() > 600 ? line.substring(0, 600) : line);
      }
    }
    assertThat(found).as(lines.size() + " lines at DEBUG").isEmpty();
  }
}
