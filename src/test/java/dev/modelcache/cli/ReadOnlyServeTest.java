package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.LogCapture;
import dev.modelcache.LoopbackCounter;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.inference.ModelState;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.Volume;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} over a cache an init {@code fetch} filled: it changes nothing there, and on a
 * read-only volume it says so, serves the models as installed and writes nothing even where a
 * writable cache would be written (tests run as root, so the volume's answer is simulated and the
 * proof is a listing of every path with its size and mtime, before and after).
 */
class ReadOnlyServeTest {
  private static final Volume READ_ONLY =
      new Volume() {
        @Override
        public long usableBytes(Path dir) {
          return 1L << 40;
        }

        @Override
        public boolean writable(Path dir) {
          return false;
        }
      };

  @TempDir Path tmp;
  private FakeHub hub;
  private LoopbackCounter counter;
  private Path cache;
  private String models;
  private final OkHttpClient http = new OkHttpClient();

  @BeforeEach
  void fetchEverything() throws Exception {
    hub = FakeHub.start();
    counter = new LoopbackCounter();
    cache = tmp.resolve("cache");
    hub.repo("demo/iris")
        .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
        .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
        .commit("main");
    Path src = tmp.resolve("src");
    models =
        TestModels.modelYaml("iris", TestModels.copy("iris", src))
            // unpinned: a fetch re-reads it to learn its digest, which would write parts
            + "  - name: digits\n    source: file:"
            + TestModels.copy("digits", src)
            + "\n"
            + "  - name: hubiris\n    source: hf://demo/iris\n";
    Files.writeString(tmp.resolve("init.yaml"), yaml(hub.endpoint()));
    StringWriter err = new StringWriter();
    int code =
        Main.run(
            new PrintWriter(new StringWriter()),
            new PrintWriter(err),
            "fetch",
            "-c",
            tmp.resolve("init.yaml").toString());
    assertThat(code).as(err.toString()).isZero();
  }

  @AfterEach
  void stop() throws Exception {
    counter.close();
    hub.close();
  }

  private String yaml(String endpoint) {
    return "cache:\n  dir: "
        + cache
        + "\nsources:\n  hf:\n    endpoint: "
        + endpoint
        + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
        + models;
  }

  private Config config(String endpoint) {
    return new ConfigLoader(Map.of(), tmp).parse(yaml(endpoint), "test config", tmp);
  }

  private int ready(Daemon daemon) throws Exception {
    try (Response response =
        http.newCall(
                new Request.Builder()
                    .url("http://127.0.0.1:" + daemon.port() + "/health/ready")
                    .build())
            .execute()) {
      return response.code();
    }
  }

  @Test
  void serveOverAFullyFetchedCacheChangesNothing() throws Exception {
    // pinned models only: an unpinned file: source is re-read (into parts) at every start
    models = models.substring(0, models.indexOf("  - name: digits"));
    models += "  - name: hubiris\n    source: hf://demo/iris\n";
    List<String> before = TestModels.listing(cache);
    try (Daemon daemon = new Daemon(config(hub.endpoint()), Clock.systemUTC())) {
      daemon.start().prepared().get(60, TimeUnit.SECONDS);
      assertThat(ready(daemon)).isEqualTo(200);
    }
    assertThat(TestModels.listing(cache)).isEqualTo(before);
  }

  @Test
  void aReadOnlyCacheIsServedAsInstalledAndNothingIsWrittenThere() throws Exception {
    String digitsBlob = TestModels.sha256("digits", "model.pt");
    Path stale = cache.resolve("local/digits/blobs/" + digitsBlob);
    TestModels.shiftMtime(stale, 1); // same bytes, new mtime: a writable cache re-stamps it
    Path corrupt = cache.resolve("local/iris/blobs/" + TestModels.sha256("iris", "model.pt"));
    TestModels.flipOneByte(corrupt); // a writable cache quarantines it and copies it again
    TestModels.shiftMtime(corrupt, 1);
    String actual = CacheStore.sha256Of(corrupt);
    List<String> before = TestModels.listing(cache);

    try (LogCapture log = new LogCapture(Daemon.class);
        Daemon daemon =
            new Daemon(config(counter.endpoint()), Clock.systemUTC(), Runnable::run, READ_ONLY)) {
      assertThat(daemon.missing()).isEmpty();
      daemon.start().prepared().get(60, TimeUnit.SECONDS);
      assertThat(log.lines())
          .contains(
              "WARN cache "
                  + cache
                  + " is read-only: serving the models as installed; nothing will be fetched,"
                  + " quarantined or written there");
      assertThat(daemon.states().status("digits").state()).isEqualTo(ModelState.READY);
      assertThat(daemon.states().status("hubiris").state()).isEqualTo(ModelState.READY);
      assertThat(daemon.states().status("iris").state()).isEqualTo(ModelState.FAILED);
      assertThat(daemon.states().status("iris").reason())
          .isEqualTo(
              "iris - model.pt: sha256 mismatch: expected "
                  + TestModels.sha256("iris", "model.pt")
                  + " (recorded at install), actual "
                  + actual
                  + "; the file was changed on the volume; blob "
                  + corrupt
                  + " left in place: the cache is read-only; the cache at "
                  + cache
                  + " is read-only, so nothing can be fetched into it: run 'modelcache fetch'"
                  + " where the volume is writable");
      assertThat(ready(daemon)).isEqualTo(503);
    }
    assertThat(TestModels.listing(cache)).isEqualTo(before);
    assertThat(counter.connections()).isZero();

    // the same start on a writable cache does write: the comparison above is not vacuous
    try (Daemon daemon = new Daemon(config(hub.endpoint()), Clock.systemUTC())) {
      daemon.start().prepared().get(60, TimeUnit.SECONDS);
      assertThat(ready(daemon)).isEqualTo(200);
    }
    assertThat(TestModels.listing(cache)).isNotEqualTo(before);
    assertThat(TestModels.filesUnder(cache.resolve(".modelcache/quarantine/iris"))).hasSize(1);
  }

  @Test
  void aModelMissingFromAReadOnlyCacheIsListedBeforeStart() throws Exception {
    Files.delete(cache.resolve(".modelcache/models/digits.json"));
    try (Daemon daemon =
        new Daemon(config(counter.endpoint()), Clock.systemUTC(), Runnable::run, READ_ONLY)) {
      assertThat(daemon.missing())
          .containsExactly(
              "FAILED digits: digits - not in the cache at "
                  + cache.resolve("local/digits")
                  + "; the cache at "
                  + cache
                  + " is read-only, so nothing can be fetched into it: run 'modelcache fetch'"
                  + " where the volume is writable");
    }
  }
}
