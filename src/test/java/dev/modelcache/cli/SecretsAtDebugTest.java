package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.chaos.Chaos;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.s3.S3Server;
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
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No secret at any log level: a daemon at {@code LOG_LEVEL=DEBUG} fetches from the fake Hub with an
 * HF token and from a real S3 server with an access key, secret key and session token, and answers
 * inference calls that carry the API token. None of the five values may appear on any line.
 */
@Tag(Chaos.TAG)
class SecretsAtDebugTest {
  private static final String API_TOKEN = "api-token-debug-5c1e9b7f3a";
  private static final String HF_TOKEN = "hf_debugtoken_8e2c4a6b0d";
  private static final String SESSION_TOKEN = "session-token-debug-1f3e5d7c9b";
  private static final MediaType JSON = MediaType.get("application/json");

  @TempDir Path tmp;
  private final OkHttpClient http = new OkHttpClient();

  @Test
  void noSecretOnAnyLineAtDebug() throws Exception {
    List<String> lines;
    try (FakeHub hub = FakeHub.start();
        S3Server s3 = S3Server.start()) {
      hub.requireToken(HF_TOKEN);
      hub.repo("demo/iris")
          .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
          .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
          .commit("main");
      s3.bucket("models");
      s3.put(
          "models",
          "iris/model.pt",
          Files.readAllBytes(TestModels.MODELS.resolve("iris/model.pt")),
          true);
      s3.put(
          "models",
          "iris/config.json",
          Files.readAllBytes(TestModels.MODELS.resolve("iris/config.json")),
          true);
      Path config = tmp.resolve("modelcache.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  hf:\n    endpoint: "
              + hub.endpoint()
              + "\n  s3:\n    endpoint: "
              + s3.endpoint()
              + "\n    path_style: true\n"
              + "server:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
              + "  - name: hub-iris\n    source: hf://demo/iris\n"
              + "  - name: s3-iris\n    source: s3://models/iris\n");
      try (ChildDaemon child =
          ChildDaemon.start(
              config,
              Map.of(
                  "LOG_LEVEL",
                  "DEBUG",
                  "MODELCACHE_TOKEN",
                  API_TOKEN,
                  "HF_TOKEN",
                  HF_TOKEN,
                  "AWS_ACCESS_KEY_ID",
                  S3Server.IDENTITY,
                  "AWS_SECRET_ACCESS_KEY",
                  S3Server.SECRET,
                  "AWS_SESSION_TOKEN",
                  SESSION_TOKEN,
                  "AWS_REGION",
                  "us-east-1"))) {
        String base = "http://127.0.0.1:" + child.awaitReady(Duration.ofSeconds(120));
        for (String model : List.of("hub-iris", "s3-iris")) {
          for (String token : List.of(API_TOKEN, HF_TOKEN)) {
            try (Response response =
                http.newCall(
                        new Request.Builder()
                            .url(base + "/inference/" + model)
                            .header("Authorization", "Bearer " + token)
                            .post(RequestBody.create("{\"inputs\": [5.1, 3.4, 1.5, 0.2]}", JSON))
                            .build())
                    .execute()) {
              assertThat(response.code()).isEqualTo(token.equals(API_TOKEN) ? 200 : 401);
            }
          }
        }
        child.awaitMessage(
            m -> m.startsWith("POST /inference/s3-iris - 401"), Duration.ofSeconds(10));
        child.sigterm();
        assertThat(child.awaitExit(Duration.ofSeconds(30))).isZero();
        lines = child.lines();
      }
    }
    assertThat(lines)
        .as("LOG_LEVEL=DEBUG took effect")
        .anyMatch(line -> "DEBUG".equals(ChildDaemon.parse(line).path("level").asText()));
    List<String> secrets =
        List.of(API_TOKEN, HF_TOKEN, S3Server.IDENTITY, S3Server.SECRET, SESSION_TOKEN);
    List<String> found = new ArrayList<>();
    for (String line : lines) {
      for (String secret : secrets) {
        if (line.contains(secret)) {
          found.add(secret + " in: " + (line.length() > 600 ? line.substring(0, 600) : line));
        }
      }
    }
    Chaos.report("secrets.at_debug", found.size());
    assertThat(found).as(lines.size() + " lines at DEBUG").isEmpty();
  }
}
