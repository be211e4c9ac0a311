package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.modelcache.ChildJvm;
import dev.modelcache.LoopbackCounter;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
 * Offline mode: the Hub endpoint points at a loopback listener that counts connections, and not one
 * may be made. What is missing fails {@code serve} and {@code fetch} at once, listed; what is
 * present is served; a corrupted file fails its model naming the file and both digests.
 */
class OfflineTest {
  @TempDir Path tmp;
  private FakeHub hub;
  private LoopbackCounter counter;
  private Path cache;
  private String irisCommit;
  private final OkHttpClient http = new OkHttpClient();

  private static final String IRIS = "  - name: iris\n    source: hf://demo/iris\n";
  private static final String OTHER = "  - name: other\n    source: hf://demo/other\n";

  @BeforeEach
  void fetchIrisFromTheHub() throws Exception {
    hub = FakeHub.start();
    counter = new LoopbackCounter();
    cache = tmp.resolve("cache");
    irisCommit =
        hub.repo("demo/iris")
            .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
            .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
            .commit("main");
    Run fetch =
        run("fetch", "-c", configFile("online.yaml", false, hub.endpoint(), IRIS).toString());
    assertThat(fetch.code()).as(fetch.err()).isZero();
  }

  @AfterEach
  void stop() throws Exception {
    counter.close();
    hub.close();
  }

  record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Run(code, out.toString(), err.toString());
  }

  private String yaml(Boolean offline, String endpoint, String models) {
    return "cache:\n  dir: "
        + cache
        + (offline == null ? "" : "\n  offline: " + offline)
        + "\nsources:\n  hf:\n    endpoint: "
        + endpoint
        + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
        + models;
  }

  private Path configFile(String name, Boolean offline, String endpoint, String models)
      throws Exception {
    Path file = tmp.resolve(name);
    Files.writeString(file, yaml(offline, endpoint, models));
    return file;
  }

  private Config config(boolean offline, String endpoint, String models) {
    return new ConfigLoader(Map.of(), tmp)
        .parse(yaml(offline, endpoint, models), "test config", tmp);
  }

  private InstalledFile installed(String path) throws Exception {
    Config config = config(true, counter.endpoint(), IRIS);
    return new CacheStore(cache)
        .installed(config.models().get(0)).orElseThrow().files().stream()
            .filter(f -> f.path().equals(path))
            .findFirst()
            .orElseThrow();
  }

  private List<String> missingLines() throws Exception {
    String offline =
        "; offline (cache.offline, MODELCACHE_OFFLINE or HF_HUB_OFFLINE), so hf://demo/%s is not"
            + " contacted: run 'modelcache fetch' where it is reachable, or turn offline mode off";
    return List.of(
        "FAILED iris: iris - config.json: blob "
            + installed("config.json").blob()
            + " is missing"
            + String.format(offline, "iris"),
        "FAILED other: other - not in the cache at "
            + cache.resolve("hub/models--demo--other")
            + String.format(offline, "other"));
  }

  @Test
  void serveAndFetchFailAtOnceListingWhatIsMissingWithoutAConnection() throws Exception {
    Files.delete(installed("config.json").blob());
    List<String> expected = missingLines();
    // a file: model can still be copied offline: it is not missing
    String digits = TestModels.modelYaml("digits", TestModels.copy("digits", tmp.resolve("src")));
    Path config = configFile("offline.yaml", true, counter.endpoint(), IRIS + OTHER + digits);
    List<String> before = TestModels.listing(cache);

    Run serve =
        assertTimeoutPreemptively(
            Duration.ofSeconds(60), () -> run("serve", "-c", config.toString()));
    assertThat(serve.code()).isEqualTo(1);
    assertThat(serve.err().lines()).containsExactlyElementsOf(expected);

    Run fetch = run("fetch", "-c", config.toString());
    assertThat(fetch.code()).isEqualTo(1);
    assertThat(fetch.err().lines()).containsExactlyElementsOf(expected);
    assertThat(fetch.out()).isEmpty();

    assertThat(TestModels.listing(cache)).isEqualTo(before);
    assertThat(counter.connections()).isZero();
  }

  @Test
  void hfHubOfflineAndModelcacheOfflineTurnItOnForTheWholeProcess() throws Exception {
    Files.delete(installed("config.json").blob());
    List<String> expected = missingLines();
    Path config = configFile("env.yaml", null, counter.endpoint(), IRIS + OTHER);
    for (String variable : List.of("HF_HUB_OFFLINE", "MODELCACHE_OFFLINE")) {
      for (String command : List.of("serve", "fetch")) {
        ProcessBuilder builder =
            new ProcessBuilder(
                    Stream.concat(
                            ChildJvm.java().stream(),
                            Stream.of(
                                "-cp",
                                System.getProperty("java.class.path"),
                                Main.class.getName(),
                                command,
                                "-c",
                                config.toString()))
                        .toList())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectErrorStream(false);
        builder.environment().keySet().removeIf(k -> k.startsWith("MODELCACHE_"));
        builder.environment().remove("HF_HUB_OFFLINE");
        builder.environment().put(variable, "1");
        Process process = builder.start();
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as(variable + " " + command).isTrue();
        assertThat(process.exitValue()).as(variable + " " + command + ": " + err).isEqualTo(1);
        List<String> failed = err.lines().filter(l -> l.startsWith("FAILED ")).toList();
        assertThat(failed).as(variable + " " + command).containsExactlyElementsOf(expected);
      }
    }
    assertThat(counter.connections()).isZero();
  }

  @Test
  void whatIsPresentIsServedWithoutAConnection() throws Exception {
    Config config = config(true, counter.endpoint(), IRIS);
    try (Daemon daemon = new Daemon(config, Clock.systemUTC())) {
      assertThat(daemon.missing()).isEmpty();
      daemon.start().prepared().get(60, TimeUnit.SECONDS);
      String base = "http://127.0.0.1:" + daemon.port();
      assertThat(get(base + "/health/ready").code()).isEqualTo(200);
      try (Response answer =
          http.newCall(
                  new Request.Builder()
                      .url(base + "/inference/iris")
                      .post(
                          RequestBody.create(
                              "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}",
                              MediaType.get("application/json")))
                      .build())
              .execute()) {
        assertThat(answer.code()).isEqualTo(200);
        assertThat(answer.body().string()).contains(irisCommit);
      }
    }
    assertThat(counter.connections()).isZero();
  }

  @Test
  void aCorruptedFileFailsItsModelNamingFileAndDigestsAndReadinessStays503() throws Exception {
    Path blob = installed("model.pt").blob();
    TestModels.flipOneByte(blob);
    TestModels.shiftMtime(blob, 1);
    String actual = CacheStore.sha256Of(blob);
    Config config = config(true, counter.endpoint(), IRIS);
    try (Daemon daemon = new Daemon(config, Clock.systemUTC())) {
      daemon.start().prepared().get(60, TimeUnit.SECONDS);
      String base = "http://127.0.0.1:" + daemon.port();
      Reply health = get(base + "/health");
      assertThat(health.code()).isEqualTo(503);
      assertThat(health.body())
          .contains("\"state\":\"FAILED\"")
          .contains(
              "iris - model.pt: sha256 mismatch: expected "
                  + TestModels.sha256("iris", "model.pt")
                  + " (recorded at install), actual "
                  + actual
                  + "; the file was changed on the volume; blob "
                  + blob
                  + " moved to "
                  + cache.resolve(".modelcache/quarantine/iris"))
          .contains("offline (cache.offline, MODELCACHE_OFFLINE or HF_HUB_OFFLINE), so");
      assertThat(get(base + "/health/ready").code()).isEqualTo(503);
      assertThat(get(base + "/metrics").body())
          .contains("modelcache_verify_failures_total{model=\"iris\"} 1.0");
    }
    assertThat(blob).doesNotExist();
    assertThat(counter.connections()).isZero();
  }

  @Test
  void onlineACorruptedFileIsQuarantinedAndFetchedAgain() throws Exception {
    Path blob = installed("model.pt").blob();
    TestModels.flipOneByte(blob);
    TestModels.shiftMtime(blob, 1);
    hub.clearRequests();
    Config config = config(false, hub.endpoint(), IRIS);
    try (Daemon daemon = new Daemon(config, Clock.systemUTC())) {
      daemon.start().prepared().get(60, TimeUnit.SECONDS);
      assertThat(get("http://127.0.0.1:" + daemon.port() + "/health/ready").code()).isEqualTo(200);
    }
    assertThat(blob).hasSameBinaryContentAs(TestModels.MODELS.resolve("iris/model.pt"));
    assertThat(TestModels.filesUnder(cache.resolve(".modelcache/quarantine/iris"))).hasSize(1);
    List<String> downloads = new ArrayList<>();
    hub.requests().stream()
        .filter(r -> r.host().equals("cdn") && r.method().equals("GET"))
        .forEach(r -> downloads.add(r.path()));
    assertThat(downloads).singleElement().asString().contains("/lfs/");
  }

  record Reply(int code, String body) {}

  private Reply get(String url) throws Exception {
    try (Response response = http.newCall(new Request.Builder().url(url).build()).execute()) {
      return new Reply(response.code(), response.body().string());
    }
  }
}
