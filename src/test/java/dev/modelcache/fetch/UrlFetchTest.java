package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.UrlSource;
import dev.modelcache.source.url.FakeFiles;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code url} models against a real file server on loopback: the file placed at its path through a
 * redirect to another host name, a cut connection resumed, wrong bytes refused naming the file and
 * both digests, a server without {@code HEAD} or ranges, and trust on first use recorded for the
 * lockfile.
 */
class UrlFetchTest {
  private static final byte[] WEIGHTS = HubFetchTest.randomBytes(200_000, 7);
  private static final String WEIGHTS_SHA = HubFetchTest.sha256(WEIGHTS);
  private static final byte[] CONFIG =
      "{\"a\": 1}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
  private static final String CONFIG_SHA = HubFetchTest.sha256(CONFIG);

  @TempDir Path tmp;
  private FakeFiles server;
  private Fetcher fetcher;
  private final List<Duration> sleeps = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    server = FakeFiles.start().put("weights.bin", WEIGHTS).put("config.json", CONFIG);
  }

  @AfterEach
  void stop() {
    if (fetcher != null) {
      fetcher.close();
    }
    server.close();
  }

  private ModelConfig model(String files, String extra) {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nmodels:\n  - name: m\n    source: url\n"
            + extra
            + "    files:\n"
            + files;
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    return config.models().get(0);
  }

  private String weights(String url, String sha) {
    return "      - url: " + url + "\n        path: onnx/model.bin\n" + sha;
  }

  private String pinned(String url) {
    return weights(url, "        sha256: " + WEIGHTS_SHA + "\n")
        + "      - {url: "
        + server.url("config.json")
        + ", sha256: "
        + CONFIG_SHA
        + "}\n";
  }

  private InstalledSnapshot fetch(ModelConfig model) throws Exception {
    return fetch(model, Optional.empty());
  }

  private InstalledSnapshot fetch(ModelConfig model, Optional<Lockfile.Locked> lock)
      throws Exception {
    if (fetcher == null) {
      fetcher =
          new Fetcher(
              new CacheStore(tmp.resolve("cache")),
              Map.of(SourceRef.Scheme.URL, new UrlSource(new OkHttpClient())),
              new ModelStates(List.of("m"), Set.of("m"), Clock.systemUTC()),
              new Metrics(new SimpleMeterRegistry()),
              Clock.systemUTC(),
              false,
              new Backoff(
                  4,
                  Duration.ofMillis(100),
                  Duration.ofSeconds(2),
                  Duration.ofSeconds(30),
                  () -> 1.0),
              sleeps::add,
              64 * 1024);
    }
    return fetcher.fetch(model, lock, false);
  }

  private List<FakeFiles.Recorded> gets(String name) {
    return server.requests().stream()
        .filter(r -> r.method().equals("GET") && r.path().equals("/files/" + name))
        .toList();
  }

  @Test
  void placesEachFileAtItsPathThroughARedirectToAnotherHost() throws Exception {
    InstalledSnapshot snapshot = fetch(model(pinned(server.movedUrl("weights.bin")), ""));

    Map<String, String> pins =
        new TreeMap<>(Map.of("onnx/model.bin", WEIGHTS_SHA, "config.json", CONFIG_SHA));
    assertThat(snapshot.id()).isEqualTo(CacheStore.snapshotId(pins));
    assertThat(snapshot.dir()).isEqualTo(tmp.resolve("cache/url/m/snapshots/" + snapshot.id()));
    assertThat(snapshot.dir().resolve("onnx/model.bin")).hasBinaryContent(WEIGHTS);
    assertThat(snapshot.dir().resolve("config.json")).hasBinaryContent(CONFIG);
    assertThat(tmp.resolve("cache/url/m/blobs/" + WEIGHTS_SHA)).hasBinaryContent(WEIGHTS);
    assertThat(gets("weights.bin"))
        .as("the bytes came from the redirect's other host name, in 4 parallel ranges")
        .hasSize(4)
        .allSatisfy(r -> assertThat(r.host()).isEqualTo("localhost"));
    assertThat(server.requests())
        .allSatisfy(r -> assertThat(r.headers()).doesNotContainKeys("Authorization", "Cookie"));

    // a second fetch of the same pins downloads nothing
    long sent = server.bodyBytes();
    assertThat(fetch(model(pinned(server.movedUrl("weights.bin")), "")).id())
        .isEqualTo(snapshot.id());
    assertThat(server.bodyBytes()).isEqualTo(sent);
  }

  @Test
  void resumesACutConnectionFromTheBytesItHas() throws Exception {
    server.cutOnce("weights.bin", 50_000);
    ModelConfig model = model(pinned(server.url("weights.bin")), "");
    // one stream: ranged parts are tested elsewhere; here the resume of a single body
    fetch0(model);
    List<FakeFiles.Recorded> gets = gets("weights.bin");
    assertThat(gets).hasSize(2);
    assertThat(gets.get(1).headers().get("Range")).containsExactly("bytes=50000-199999");
    assertThat(server.bodyBytes())
        .as("no byte sent twice")
        .isEqualTo(WEIGHTS.length + CONFIG.length);
    assertThat(sleeps).hasSize(1);
  }

  /** A fetch whose files are all below the ranged size: one stream each. */
  private void fetch0(ModelConfig model) throws Exception {
    fetcher =
        new Fetcher(
            new CacheStore(tmp.resolve("cache")),
            Map.of(SourceRef.Scheme.URL, new UrlSource(new OkHttpClient())),
            new ModelStates(List.of("m"), Set.of("m"), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            false,
            new Backoff(
                4,
                Duration.ofMillis(100),
                Duration.ofSeconds(2),
                Duration.ofSeconds(30),
                () -> 1.0),
            sleeps::add,
            Fetcher.RANGED_MIN_BYTES);
    InstalledSnapshot snapshot = fetcher.fetch(model);
    assertThat(snapshot.dir().resolve("onnx/model.bin")).hasBinaryContent(WEIGHTS);
  }

  @Test
  void aServerWithoutHeadOrRangesIsFetchedInOneStreamAndResumedBySkipping() throws Exception {
    server.head(false);
    server.ranges(false);
    server.cutOnce("weights.bin", 50_000, 1); // not the size probe's body: the download's
    InstalledSnapshot snapshot = fetch(model(pinned(server.url("weights.bin")), ""));
    assertThat(snapshot.dir().resolve("onnx/model.bin")).hasBinaryContent(WEIGHTS);
    assertThat(gets("weights.bin"))
        .as("the size from a one-byte GET, then one stream (no ranges), then its resume")
        .hasSize(3);
    assertThat(gets("weights.bin").get(0).headers().get("Range")).containsExactly("bytes=0-0");
  }

  @Test
  void refusesWrongBytesNamingTheFileAndBothDigests() throws Exception {
    server.wrongBytes("weights.bin");
    byte[] wrong = WEIGHTS.clone();
    wrong[wrong.length / 2] ^= 1;
    assertThatThrownBy(() -> fetch(model(pinned(server.url("weights.bin")), "")))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "m - onnx/model.bin: sha256 mismatch: expected "
                + WEIGHTS_SHA
                + " (pinned in the config), actual "
                + HubFetchTest.sha256(wrong)
                + "; the file was not installed.");
    assertThat(tmp.resolve("cache/url/m/refs/main")).doesNotExist();
  }

  @Test
  void aMissingFileNamesItsUrlWithoutTheQueryString() {
    String url = server.url("gone.bin") + "?X-Amz-Signature=secret123";
    assertThatThrownBy(
            () -> fetch(model(weights(url, "        sha256: " + WEIGHTS_SHA + "\n"), "")))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - onnx/model.bin: "
                + server.url("gone.bin")
                + "?... answered HTTP 404; no such file there: check the URL")
        .hasMessageNotContaining("secret123");
    assertThat(sleeps).as("a 404 is not retried").isEmpty();
  }

  @Test
  void withoutPinsTheBytesAreTrustedOnFirstUseAndTheLockEntryPinsThemAfterwards() throws Exception {
    ModelConfig model = model(weights(server.url("weights.bin"), ""), "    require_pins: false\n");
    InstalledSnapshot snapshot;
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      snapshot = fetch(model);
      assertThat(log.lines())
          .contains(
              "WARN m - onnx/model.bin: require_pins is false and it has no sha256 pin: trusting"
                  + " its bytes on first use; its SHA-256 is recorded in modelcache.lock");
    }
    Lockfile.Locked entry = fetcher.lockEntry(model, snapshot);
    assertThat(entry.files())
        .containsExactly(
            new Lockfile.LockedFile(
                "onnx/model.bin",
                WEIGHTS.length,
                WEIGHTS_SHA,
                null,
                null,
                server.url("weights.bin")));

    // the same URL now serves other bytes: on another machine (an empty cache) the lock entry's
    // pin refuses them
    byte[] other = HubFetchTest.randomBytes(WEIGHTS.length, 8);
    server.put("weights.bin", other);
    fetcher.close();
    fetcher = null;
    dev.modelcache.TestModels.deleteTree(tmp.resolve("cache"));
    assertThatThrownBy(() -> fetch(model, Optional.of(entry)))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageContaining(
            "expected "
                + WEIGHTS_SHA
                + " (pinned in modelcache.lock), actual "
                + HubFetchTest.sha256(other));

    // another URL for the file: the old pin no longer applies, the new bytes are trusted anew
    server.put("other.bin", other);
    ModelConfig moved = model(weights(server.url("other.bin"), ""), "    require_pins: false\n");
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      assertThat(fetch(moved, Optional.of(entry)).dir().resolve("onnx/model.bin"))
          .hasBinaryContent(other);
      assertThat(log.lines())
          .contains(
              "INFO m - onnx/model.bin changed upstream since modelcache.lock (URL "
                  + server.url("weights.bin")
                  + " -> "
                  + server.url("other.bin")
                  + ", 200000 -> 200000 bytes): fetching it again");
    }
  }

  @Test
  void aBusyServerIsRetriedAfterTheDelayItAsksFor() throws Exception {
    server.failOnce("weights.bin", 503);
    InstalledSnapshot snapshot = fetch(model(pinned(server.url("weights.bin")), ""));
    assertThat(snapshot.dir().resolve("onnx/model.bin")).hasBinaryContent(WEIGHTS);
    assertThat(sleeps).containsExactly(Duration.ofSeconds(7));
  }

  @Test
  void frozenFailsWhenAFileMovedToAnotherUrlSinceTheLock() throws Exception {
    ModelConfig model = model(weights(server.url("weights.bin"), ""), "    require_pins: false\n");
    InstalledSnapshot first = fetch(model);
    Lockfile.Locked locked = fetcher.lockEntry(model, first); // as 'modelcache lock' writes it
    server.put("other.bin", WEIGHTS);
    ModelConfig moved = model(weights(server.url("other.bin"), ""), "    require_pins: false\n");
    assertThatThrownBy(() -> fetcher.fetch(moved, Optional.of(locked), true))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - upstream no longer matches modelcache.lock (--frozen): onnx/model.bin: URL "
                + server.url("weights.bin")
                + " in modelcache.lock, "
                + server.url("other.bin")
                + " in the config; run 'modelcache lock' to accept the new state");
    assertThat(fetcher.fetch(model, Optional.of(locked), true).dir().resolve("onnx/model.bin"))
        .hasBinaryContent(WEIGHTS);
  }

  @Test
  void offlineTheInstalledSnapshotIsServedWithoutARequest() throws Exception {
    ModelConfig model = model(pinned(server.url("weights.bin")), "");
    String id = fetch(model).id();
    server.close();
    try (Fetcher offline =
        new Fetcher(
            new CacheStore(tmp.resolve("cache")),
            Map.of(SourceRef.Scheme.URL, new UrlSource(new OkHttpClient())),
            new ModelStates(List.of("m"), Set.of("m"), Clock.systemUTC()),
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            true)) {
      assertThat(offline.fetch(model).id()).isEqualTo(id);
    }
  }
}
