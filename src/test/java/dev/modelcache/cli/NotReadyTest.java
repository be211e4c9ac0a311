package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Readiness and inference before the models are prepared, and after one fails. */
class NotReadyTest {
  @TempDir Path tmp;
  private final OkHttpClient http = new OkHttpClient();

  @Test
  void answers503WithRetryAfterUntilReadyThen200() throws Exception {
    Config config =
        TestModels.config(
            tmp.resolve("cache"),
            TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src"))));
    List<Runnable> held = new ArrayList<>();
    try (Daemon daemon = new Daemon(config, Clock.systemUTC(), held::add).start()) {
      String base = "http://127.0.0.1:" + daemon.port();
      try (Response ready =
          http.newCall(new Request.Builder().url(base + "/health/ready").build()).execute()) {
        assertThat(ready.code()).isEqualTo(503);
        assertThat(ready.body().string()).contains("iris (PENDING)");
      }
      try (Response live =
          http.newCall(new Request.Builder().url(base + "/health/live").build()).execute()) {
        assertThat(live.code()).isEqualTo(200);
      }
      Request infer =
          new Request.Builder()
              .url(base + "/inference/iris")
              .post(
                  RequestBody.create(
                      "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}", MediaType.get("application/json")))
              .build();
      try (Response early = http.newCall(infer).execute()) {
        assertThat(early.code()).isEqualTo(503);
        assertThat(early.header("Retry-After")).isEqualTo("5");
        assertThat(new ObjectMapper().readTree(early.body().string()).get("error").asText())
            .isEqualTo("iris is PENDING; retry when /health/ready answers 200");
      }
      held.forEach(Runnable::run);
      try (Response ready =
          http.newCall(new Request.Builder().url(base + "/health/ready").build()).execute()) {
        assertThat(ready.code()).isEqualTo(200);
      }
      try (Response late = http.newCall(infer).execute()) {
        assertThat(late.code()).isEqualTo(200);
      }
    }
  }

  @Test
  void aCorruptRequiredModelIsFailedWithBothDigestsAndReadinessStays503() throws Exception {
    Path src = TestModels.copy("iris", tmp.resolve("src"));
    TestModels.flipOneByte(src.resolve("model.pt"));
    Config config = TestModels.config(tmp.resolve("cache"), TestModels.modelYaml("iris", src));
    try (Daemon daemon = new Daemon(config, Clock.systemUTC(), Runnable::run).start()) {
      String base = "http://127.0.0.1:" + daemon.port();
      try (Response health =
          http.newCall(new Request.Builder().url(base + "/health").build()).execute()) {
        assertThat(health.code()).isEqualTo(503);
        String body = health.body().string();
        assertThat(body)
            .contains("\"state\":\"FAILED\"")
            .contains("sha256 mismatch: expected " + TestModels.sha256("iris", "model.pt"))
            .contains(
                "actual " + dev.modelcache.store.CacheStore.sha256Of(src.resolve("model.pt")));
      }
      try (Response early =
          http.newCall(
                  new Request.Builder()
                      .url(base + "/inference/iris")
                      .post(
                          RequestBody.create(
                              "{\"inputs\": [1, 2, 3, 4]}", MediaType.get("application/json")))
                      .build())
              .execute()) {
        assertThat(early.code()).isEqualTo(503);
        assertThat(early.body().string())
            .contains("iris is FAILED: iris - model.pt: sha256 mismatch");
      }
      TestModels.assertNothingInstalled(
          tmp.resolve("cache"), dev.modelcache.store.CacheStore.sha256Of(src.resolve("model.pt")));
      assertThat(Files.exists(tmp.resolve("cache/local/iris/refs/main"))).isFalse();
    }
  }
}
