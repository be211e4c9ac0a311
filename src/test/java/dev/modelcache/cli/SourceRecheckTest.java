package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.LogCapture;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.ModelState;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Fault;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model served from the cache because its source was down asks the source again while the daemon
 * runs; once the source answers, the flag goes, the model staying READY and served throughout.
 */
class SourceRecheckTest {
  @TempDir Path tmp;

  @Test
  void theFlagGoesWhenTheSourceAnswersAgain() throws Exception {
    try (FakeHub hub = FakeHub.start()) {
      String commit =
          hub.repo("demo/iris")
              .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
              .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
              .commit("main");
      Path file = tmp.resolve("modelcache.yaml");
      Files.writeString(
          file,
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  hf:\n    endpoint: "
              + hub.endpoint()
              + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
              + "  - name: iris\n    source: hf://demo/iris\n");
      CliRun fetched = CliRun.of("fetch", "-c", file.toString());
      assertThat(fetched.code()).as(fetched.err()).isZero();
      // the branch moves while the Hub fails every attempt of the start's listing, and the first
      // re-checks too (OkHttp itself repeats a 503 with Retry-After: 0 once)
      String moved =
          hub.repo("demo/iris")
              .file("README.md", "# iris\n".getBytes(StandardCharsets.UTF_8), false)
              .commit("main");
      for (int i = 0; i < 20; i++) {
        hub.fault(Fault.status("/revision/main", 503, "0"));
      }
      Config config =
          new ConfigLoader(Map.of(), tmp).parse(Files.readString(file), file.toString(), tmp);

      try (LogCapture log = new LogCapture(Fetcher.class);
          Daemon daemon =
              Daemon.withRecheck(config, Clock.systemUTC(), Duration.ofMillis(200)).start()) {
        daemon.prepared().get(60, TimeUnit.SECONDS);
        assertThat(daemon.states().status("iris").state()).isEqualTo(ModelState.READY);

        Poll.until(
            Duration.ofSeconds(20),
            Duration.ofMillis(20),
            "a re-check to clear the stale mark of iris",
            () -> {
              assertThat(daemon.states().status("iris").state()).isEqualTo(ModelState.READY);
              return daemon.states().stale("iris").isEmpty();
            });
        assertThat(log.lines())
            .contains(
                "INFO iris - hf://demo/iris answers again and now holds revision "
                    + moved
                    + "; revision "
                    + commit
                    + " stays served until the next 'modelcache fetch' or restart");
        try (Response model =
            new OkHttpClient()
                .newCall(
                    new Request.Builder()
                        .url("http://127.0.0.1:" + daemon.port() + "/models/iris")
                        .build())
                .execute()) {
          String body = model.body().string();
          assertThat(body).contains("\"revision\":\"" + commit + "\"").doesNotContain("stale");
        }
      }
    }
  }
}
