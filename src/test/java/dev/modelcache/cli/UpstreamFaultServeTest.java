package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Fault;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon while one model's upstream misbehaves: the other model is fetched, loaded and served,
 * and the faulty one is reported FAILED with the cause, nothing of it installed.
 */
class UpstreamFaultServeTest {
  @TempDir Path tmp;

  @Test
  void aModelWhoseUpstreamSendsWrongBytesFailsWhileTheOtherServes() throws Exception {
    byte[] weights = new byte[300_000];
    new Random(3).nextBytes(weights);
    try (FakeHub hub = FakeHub.start()) {
      hub.repo("demo/iris")
          .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
          .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
          .commit("main");
      hub.repo("demo/broken")
          .file("weights.bin", weights, true)
          .file("config.json", "{}\n".getBytes(StandardCharsets.UTF_8), false)
          .commit("main");
      String brokenSha = dev.modelcache.store.CacheStore.sha256Of(write(weights));
      // every download of the broken file has its middle byte flipped
      for (int i = 0; i < 10; i++) {
        hub.fault(Fault.wrongBytes(brokenSha));
      }
      String yaml =
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  hf:\n    endpoint: "
              + hub.endpoint()
              + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
              + "  - name: broken\n    source: hf://demo/broken\n    required: false\n"
              + "  - name: iris\n    source: hf://demo/iris\n";
      Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
      try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
        daemon.prepared().get(120, TimeUnit.SECONDS);
        OkHttpClient http = new OkHttpClient();
        String base = "http://127.0.0.1:" + daemon.port();
        try (Response ready =
            http.newCall(new Request.Builder().url(base + "/health/ready").build()).execute()) {
          assertThat(ready.code()).isEqualTo(200);
        }
        try (Response health =
            http.newCall(new Request.Builder().url(base + "/health").build()).execute()) {
          assertThat(health.body().string())
              .contains("\"state\":\"FAILED\"")
              .contains("broken - weights.bin: sha256 mismatch: expected " + brokenSha)
              .contains("\"state\":\"READY\"");
        }
        String input = TestModels.reference("iris").get("cases").get(0).get("inputs").toString();
        try (Response answer =
            http.newCall(
                    new Request.Builder()
                        .url(base + "/inference/iris")
                        .post(
                            RequestBody.create(
                                "{\"inputs\": " + input + "}", MediaType.get("application/json")))
                        .build())
                .execute()) {
          assertThat(answer.code()).isEqualTo(200);
        }
        try (Response answer =
            http.newCall(
                    new Request.Builder()
                        .url(base + "/inference/broken")
                        .post(
                            RequestBody.create(
                                "{\"inputs\": [1]}", MediaType.get("application/json")))
                        .build())
                .execute()) {
          assertThat(answer.code()).isEqualTo(503);
          assertThat(answer.body().string()).contains("broken is FAILED");
        }
      }
      assertThat(TestModels.filesUnder(tmp.resolve("cache/hub/models--demo--broken/blobs")))
          .allMatch(name -> !name.equals(brokenSha));
    }
  }

  private Path write(byte[] bytes) throws Exception {
    Path file = tmp.resolve("weights.bin");
    java.nio.file.Files.write(file, bytes);
    return file;
  }
}
