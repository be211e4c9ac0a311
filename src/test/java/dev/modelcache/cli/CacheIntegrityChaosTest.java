package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.LoopbackCounter;
import dev.modelcache.TestModels;
import dev.modelcache.chaos.Chaos;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.store.CacheStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache under two real-world faults: symlinks planted in a fetched Hub cache (a snapshot file,
 * a snapshot folder, a blob, the repository folder, leading outside the cache or to another blob)
 * are reported by {@code verify} and never served as READY; and a cache moved to another folder is
 * served offline as it is, without a connection or a re-hash.
 */
@Tag(Chaos.TAG)
class CacheIntegrityChaosTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String IRIS = "  - name: iris\n    source: hf://demo/iris\n";
  private static final String OLD = "  - name: old\n    source: hf://demo/old\n";

  @TempDir Path tmp;
  private FakeHub hub;
  private LoopbackCounter counter;
  private String irisCommit;
  private final OkHttpClient http =
      new OkHttpClient.Builder().callTimeout(Duration.ofSeconds(30)).build();

  @BeforeEach
  void startTheHub() throws Exception {
    hub = FakeHub.start();
    counter = new LoopbackCounter();
    irisCommit =
        hub.repo("demo/iris")
            .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
            .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
            .commit("main");
  }

  @AfterEach
  void stop() throws Exception {
    counter.close();
    hub.close();
  }

  private String yaml(Path cache, boolean offline, String models) {
    return "cache:\n  dir: "
        + cache
        + "\n  offline: "
        + offline
        + "\nsources:\n  hf:\n    endpoint: "
        + (offline ? counter.endpoint() : hub.endpoint())
        + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
        + models;
  }

  private Path configFile(Path cache, boolean offline, String models) throws Exception {
    Path file = Files.createTempFile(tmp, "modelcache", ".yaml");
    Files.writeString(file, yaml(cache, offline, models));
    return file;
  }

  private Config config(Path cache, boolean offline) {
    return new ConfigLoader(Map.of(), tmp).parse(yaml(cache, offline, IRIS), "test config", tmp);
  }

  private void fetch(Path cache, String models) throws Exception {
    CliRun fetch = CliRun.of("fetch", "-c", configFile(cache, false, models).toString());
    assertThat(fetch.code()).as(fetch.err()).isZero();
  }

  /** The ways a symlink in the cache can lead outside it or to other bytes. */
  enum Plant {
    FILE_OUTSIDE,
    OTHER_BLOB,
    SNAPSHOT_OUTSIDE,
    BLOB_OUTSIDE,
    REPO_OUTSIDE,
    /** A symlink in the snapshot folder that no record names (a loader may read it). */
    STRAY_OUTSIDE
  }

  /**
   * Plants {@code kind} in {@code cache} for the snapshot file {@code file}, outside targets under
   * {@code outside}; returns the path that every report must name. The outside bytes are the very
   * bytes of the file: only the path, never a digest, can tell them apart.
   */
  private Path plant(Plant kind, Path cache, String file, Path outside) throws Exception {
    Path repo = cache.resolve("hub/models--demo--iris");
    Path snapshot = repo.resolve("snapshots/" + irisCommit);
    Path link = snapshot.resolve(file);
    Files.createDirectories(outside);
    Path evil = outside.resolve("evil-" + file);
    Files.copy(TestModels.MODELS.resolve("iris").resolve(file), evil);
    switch (kind) {
      case FILE_OUTSIDE -> {
        Files.delete(link);
        Files.createSymbolicLink(link, evil);
        return link;
      }
      case OTHER_BLOB -> {
        String other = file.equals("model.pt") ? "config.json" : "model.pt";
        Path target = Files.readSymbolicLink(snapshot.resolve(other));
        Files.delete(link);
        Files.createSymbolicLink(link, target);
        return link;
      }
      case SNAPSHOT_OUTSIDE -> {
        // a copy with the same relative links: they lead to the copy's blobs
        Path copy = outside.resolve("repo");
        TestModels.copyTree(repo, copy);
        TestModels.deleteTree(snapshot);
        Files.createSymbolicLink(snapshot, copy.resolve("snapshots/" + irisCommit));
        return snapshot;
      }
      case BLOB_OUTSIDE -> {
        Path blob = link.toRealPath();
        Files.delete(blob);
        Files.createSymbolicLink(blob, evil);
        return blob;
      }
      case STRAY_OUTSIDE -> {
        Path stray = snapshot.resolve("tokenizer.json");
        Files.createSymbolicLink(stray, evil);
        return stray;
      }
      case REPO_OUTSIDE -> {
        Path copy = outside.resolve("repo");
        TestModels.copyTree(repo, copy);
        TestModels.deleteTree(repo);
        Files.createSymbolicLink(repo, copy);
        return repo;
      }
    }
    throw new IllegalArgumentException(kind.name());
  }

  @Test
  void plantedSymlinksAreReportedByVerifyAndNeverServedAsReady() throws Exception {
    Path pristine = tmp.resolve("pristine");
    fetch(pristine, IRIS);
    int tried = 0;
    int refused = 0;
    int rounds = Chaos.rounds(1, 4);
    for (int round = 0; round < rounds; round++) {
      String file = round % 2 == 0 ? "model.pt" : "config.json";
      for (Plant kind : Plant.values()) {
        String what = kind + " on " + file + " (round " + round + ")";
        tried++;
        Path outside = tmp.resolve("outside-" + round + "-" + kind);
        for (String mode : List.of("fast", "full")) {
          Path cache = tmp.resolve("verify-" + mode + "-" + round + "-" + kind);
          TestModels.copyTree(pristine, cache);
          Path named = plant(kind, cache, file, outside.resolve(mode));
          Path config = configFile(cache, true, IRIS);
          CliRun verify =
              mode.equals("fast")
                  ? CliRun.of("verify", "-c", config.toString())
                  : CliRun.of("verify", "--full", "-c", config.toString());
          assertThat(verify.code()).as(what + " verify " + mode + ": " + verify.out()).isEqualTo(1);
          assertThat(verify.err())
              .as(what + " verify " + mode)
              .contains("FAILED iris - ", named + " ");
        }

        Path offline = tmp.resolve("offline-" + round + "-" + kind);
        TestModels.copyTree(pristine, offline);
        Path named = plant(kind, offline, file, outside.resolve("offline"));
        try (Daemon daemon = new Daemon(config(offline, true), Clock.systemUTC())) {
          daemon.start().prepared().get(60, TimeUnit.SECONDS);
          JsonNode model = get(daemon, "/models/iris");
          assertThat(model.path("state").asText()).as(what + " offline").isEqualTo("FAILED");
          assertThat(get(daemon, "/health").toString()).as(what + " offline").contains(named + " ");
        }

        Path online = tmp.resolve("online-" + round + "-" + kind);
        TestModels.copyTree(pristine, online);
        named = plant(kind, online, file, outside.resolve("online"));
        try (Daemon daemon = new Daemon(config(online, false), Clock.systemUTC())) {
          daemon.start().prepared().get(60, TimeUnit.SECONDS);
          JsonNode model = get(daemon, "/models/iris");
          if (kind == Plant.REPO_OUTSIDE || kind == Plant.STRAY_OUTSIDE) {
            // modelcache writes (and removes) nothing through it: the model fails, naming it
            assertThat(model.path("state").asText()).as(what + " online").isEqualTo("FAILED");
            assertThat(get(daemon, "/health").toString())
                .as(what + " online")
                .contains(
                    kind == Plant.REPO_OUTSIDE
                        ? named + " is a symlink to "
                        : named + " leads outside the cache ");
          } else {
            // fetched again: what is served now is the verified blob inside the cache
            assertThat(model.path("state").asText()).as(what + " online").isEqualTo("READY");
            CacheStore.checkServable(
                new CacheStore(online)
                    .installed(config(online, false).models().get(0))
                    .orElseThrow());
            if (kind == Plant.SNAPSHOT_OUTSIDE || kind == Plant.BLOB_OUTSIDE) {
              assertThat(Files.isSymbolicLink(named)).as(what + ": " + named).isFalse();
            }
            assertThat(infer(daemon)).as(what).isEqualTo(200);
          }
        }
        for (String phase : List.of("fast", "full", "offline", "online")) {
          assertThat(outside.resolve(phase).resolve("evil-" + file))
              .as(what + ": nothing outside the cache is moved or changed")
              .hasSameBinaryContentAs(TestModels.MODELS.resolve("iris").resolve(file));
        }
        refused++;
      }
    }
    Chaos.report("symlinks.refused", refused + "/" + tried);
  }

  @Test
  void aMovedCacheIsServedOfflineWithoutAConnectionOrAReHash() throws Exception {
    String oldCommit =
        hub.repo("demo/old")
            .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
            .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
            .commit("main");
    Path at = tmp.resolve("models");
    fetch(at, IRIS + OLD);
    for (Path state :
        TestModels.filesUnder(at.resolve(".modelcache")).stream()
            .map(at.resolve(".modelcache")::resolve)
            .toList()) {
      assertThat(new String(Files.readAllBytes(state), StandardCharsets.ISO_8859_1))
          .as(state + " records no absolute path")
          .doesNotContain(at.toString());
    }
    // the record of 'old' as modelcache wrote it before: an absolute path under the first root
    Path record = at.resolve(".modelcache/models/old.json");
    String relative = "\"repo\" : \"hub/models--demo--old\"";
    String text = Files.readString(record);
    assertThat(text).contains(relative);
    Files.writeString(
        record,
        text.replace(relative, "\"repo\" : \"" + at.resolve("hub/models--demo--old") + "\""));

    int moves = Chaos.rounds(1, 5);
    for (int move = 1; move <= moves; move++) {
      Path to = tmp.resolve("data-" + move).resolve("models");
      Files.createDirectories(to.getParent());
      Files.move(at, to);
      at = to;
      CliRun verify = CliRun.of("verify", "-c", configFile(at, true, IRIS + OLD).toString());
      assertThat(verify.code()).as(verify.err()).isZero();
      assertThat(verify.out())
          .contains("ok iris: snapshot " + irisCommit + " verified (")
          .contains("ok old: snapshot " + oldCommit + " verified (")
          .contains("verification of 4 files: 0 re-hashed, 0 bytes");
    }

    try (ChildDaemon child = ChildDaemon.start(configFile(at, true, IRIS + OLD), Map.of())) {
      int port = child.awaitReady(Duration.ofSeconds(90));
      for (String name : List.of("iris", "old")) {
        JsonNode model = get(port, "/models/" + name);
        assertThat(model.path("state").asText()).as(name).isEqualTo("READY");
      }
      assertThat(infer(port)).isEqualTo(200);
    }
    assertThat(counter.connections()).isZero();
    Chaos.report(
        "relocate",
        "ok: 2 models served offline after " + moves + " move(s), 0 re-hashed, 0 connections");
  }

  private JsonNode get(Daemon daemon, String path) throws Exception {
    return get(daemon.port(), path);
  }

  private JsonNode get(int port, String path) throws Exception {
    try (Response response =
        http.newCall(new Request.Builder().url("http://127.0.0.1:" + port + path).build())
            .execute()) {
      return JSON.readTree(response.body().string());
    }
  }

  private int infer(Daemon daemon) throws Exception {
    return infer(daemon.port());
  }

  private int infer(int port) throws Exception {
    try (Response answer =
        http.newCall(
                new Request.Builder()
                    .url("http://127.0.0.1:" + port + "/inference/iris")
                    .post(
                        RequestBody.create(
                            "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}",
                            MediaType.get("application/json")))
                    .build())
            .execute()) {
      return answer.code();
    }
  }
}
