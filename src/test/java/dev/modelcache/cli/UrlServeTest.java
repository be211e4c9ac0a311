package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.inference.ModelState;
import dev.modelcache.source.url.FakeFiles;
import dev.modelcache.store.Lockfile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real iris TorchScript model served from URLs: fetched through a redirect to another host name
 * and a cut connection, it answers {@code /inference} as PyTorch did; fetched unpinned with {@code
 * require_pins: false}, its digests land in {@code modelcache.lock}.
 */
class UrlServeTest {
  @TempDir Path tmp;
  private FakeFiles server;

  @BeforeEach
  void start() throws Exception {
    server = FakeFiles.start();
    for (String name : new String[] {"model.pt", "config.json"}) {
      server.put(name, Files.readAllBytes(TestModels.MODELS.resolve("iris").resolve(name)));
    }
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void aTorchScriptModelFromUrlsAnswersAsPyTorchDid() throws Exception {
    server.cutOnce("model.pt", 1000);
    String models =
        "  - name: iris\n    source: url\n    files:\n"
            + "      - url: "
            + server.movedUrl("model.pt")
            + "\n        sha256: "
            + TestModels.sha256("iris", "model.pt")
            + "\n        path: model.pt\n"
            + "      - {url: '"
            + server.url("config.json")
            + "', sha256: "
            + TestModels.sha256("iris", "config.json")
            + "}\n";
    Config config = TestModels.config(tmp.resolve("cache"), models);
    try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
      daemon.prepared().get(60, TimeUnit.SECONDS);
      assertThat(daemon.states().status("iris").state()).isEqualTo(ModelState.READY);
      JsonNode reference = TestModels.reference("iris").get("cases").get(1);
      OkHttpClient http = new OkHttpClient();
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
        for (int i = 0; i < 3; i++) {
          assertThat(answer.get("outputs").get(i).asDouble())
              .isCloseTo(reference.get("probabilities").get(i).asDouble(), within(1e-5));
        }
      }
    }
    long modelSize = Files.size(TestModels.MODELS.resolve("iris/model.pt"));
    assertThat(
            server.requests().stream()
                .filter(r -> r.method().equals("GET") && r.path().equals("/files/model.pt"))
                .map(r -> r.host() + " " + r.headers().get("Range")))
        .as("through the redirect to localhost, resumed after the cut")
        .containsExactly("localhost null", "localhost [bytes=1000-" + (modelSize - 1) + "]");
  }

  @Test
  void fetchTrustsUnpinnedFilesOnFirstUseAndRecordsThemInTheLockfile() throws Exception {
    Path file =
        TestModels.configFile(
            tmp,
            tmp.resolve("cache"),
            "  - name: iris\n    require_pins: false\n    files:\n"
                + "      - url: "
                + server.url("model.pt")
                + "\n      - url: "
                + server.url("config.json")
                + "\n");
    CliRun fetched = CliRun.of("fetch", "-c", file.toString());
    assertThat(fetched.code()).as(fetched.err()).isZero();
    Lockfile.Locked locked = Lockfile.read(tmp.resolve("modelcache.lock")).model("iris").get();
    assertThat(locked.source()).isEqualTo("url");
    assertThat(locked.files())
        .containsExactly(
            new Lockfile.LockedFile(
                "config.json",
                Files.size(TestModels.MODELS.resolve("iris/config.json")),
                TestModels.sha256("iris", "config.json"),
                null,
                null,
                server.url("config.json")),
            new Lockfile.LockedFile(
                "model.pt",
                Files.size(TestModels.MODELS.resolve("iris/model.pt")),
                TestModels.sha256("iris", "model.pt"),
                null,
                null,
                server.url("model.pt")));
  }
}
