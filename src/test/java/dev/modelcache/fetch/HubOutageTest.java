package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Fault;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An outage of the Hub is not an outage of the cache: with the Hub unreachable (closed port) or
 * answering 5xx after the retries, a revision fetched and verified before is served from the cache,
 * flagged as stale; pins and the lockfile still decide which bytes are acceptable, and a Hub that
 * answers 404/401/403 still fails.
 */
class HubOutageTest extends OutageFixture {
  private final FakeHub hub = startHub();
  private final String commit =
      hub.repo("org/name")
          .file("model.safetensors", WEIGHTS, true)
          .file("config.json", CONFIG, false)
          .commit("main");

  private FakeHub startHub() {
    try {
      return FakeHub.start();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @AfterEach
  void stop() {
    hub.close();
  }

  private Config at(String endpoint, String modelYaml) {
    return config("  hf:\n    endpoint: " + endpoint + "\n", modelYaml);
  }

  private Config up(String modelYaml) {
    return at(hub.endpoint(), modelYaml);
  }

  private static final String MAIN = "  - name: m\n    source: hf://org/name\n";

  @Test
  void aClosedPortServesTheCommitTheBranchRefPointsToAtOnce() throws Exception {
    fetch(up(MAIN));
    int port = closedPort();

    InstalledSnapshot served;
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      served = fetch(at("http://localhost:" + port, MAIN));
      assertThat(log.lines())
          .anySatisfy(
              line ->
                  assertThat(line)
                      .startsWith(
                          "WARN m - source unreachable: serving revision "
                              + commit
                              + " from the cache (2 files, fetched and verified before); the next"
                              + " fetch or restart that reaches the Hub catches up. Cause: m -"
                              + " cannot reach localhost:"
                              + port
                              + " for revision main: "));
    }

    assertThat(served.id()).isEqualTo(commit);
    assertThat(sleeps).as("no retries: no connection at all, and a revision to serve").isEmpty();
    ModelStates.Stale stale = states.stale("m").orElseThrow();
    assertThat(stale.revision()).isEqualTo(commit);
    assertThat(stale.reason()).startsWith("m - cannot reach localhost:" + port);
    assertThat(unreachableGauge()).isEqualTo(1.0);
  }

  @Test
  void aNameThatDoesNotResolveServesTheCachedCommitAtOnce() throws Exception {
    fetch(up(MAIN));
    http =
        new OkHttpClient.Builder()
            .dns(
                host -> {
                  throw new java.net.UnknownHostException(host + ": no such host (test resolver)");
                })
            .build();

    assertThat(fetch(at("http://hub.example.invalid", MAIN)).id()).isEqualTo(commit);
    assertThat(sleeps).isEmpty();
    assertThat(states.stale("m").orElseThrow().reason())
        .isEqualTo(
            "m - cannot reach hub.example.invalid:80 for revision main: hub.example.invalid: no"
                + " such host (test resolver)");
  }

  @Test
  void aFiveHundredStormFallsBackAfterTheRetriesAndTheNextCheckCatchesUp() throws Exception {
    fetch(up(MAIN));
    ModelConfig model = up(MAIN).models().get(0);
    try (Fetcher fetcher = fetcher(up(MAIN))) {
      for (int i = 0; i < ATTEMPTS; i++) {
        hub.fault(Fault.status("/revision/main", 503, null));
      }
      sleeps.clear();

      assertThat(fetcher.fetch(model).id()).isEqualTo(commit);
      assertThat(sleeps).hasSize(ATTEMPTS - 1);
      assertThat(states.stale("m").orElseThrow().reason())
          .isEqualTo(
              "m - the Hub answered HTTP 503 for revision main (Injected fault: HTTP 503) (gave up"
                  + " after 4 attempts)");
      assertThat(unreachableGauge()).isEqualTo(1.0);

      String next =
          hub.repo("org/name")
              .file("config.json", "{}".getBytes(StandardCharsets.UTF_8), false)
              .commit("main");
      assertThat(fetcher.fetch(model).id()).isEqualTo(next);
      assertThat(states.stale("m")).isEmpty();
      assertThat(unreachableGauge()).isEqualTo(0.0);
    }
  }

  @Test
  void aCdnThatStaysDownServesTheRevisionTheRefStillPointsTo() throws Exception {
    fetch(up(MAIN));
    hub.repo("org/name")
        .file("model.safetensors", "new weights".getBytes(StandardCharsets.UTF_8), true)
        .commit("main");
    for (int i = 0; i < ATTEMPTS; i++) {
      hub.fault(Fault.status("/lfs/", 503, null));
    }

    assertThat(fetch(up(MAIN)).id()).isEqualTo(commit);
    assertThat(states.stale("m").orElseThrow().reason())
        .startsWith(
            "m - model.safetensors: gave up after 4 attempts without progress; last error: m - the"
                + " Hub answered HTTP 503 for model.safetensors");
    assertThat(tmp.resolve("cache/hub/models--org--name/refs/main")).hasContent(commit);
  }

  @Test
  void aPinnedCommitIsServedWhileTheHubIsDown() throws Exception {
    String pinned = "  - name: m\n    source: hf://org/name@" + commit + "\n";
    fetch(up(pinned));
    assertThat(fetch(at("http://localhost:" + closedPort(), pinned)).id()).isEqualTo(commit);
    assertThat(states.stale("m")).isPresent();
  }

  @Test
  void theLockfileEntryDecidesWhichCachedRevisionMayBeServed() throws Exception {
    Lockfile.Locked locked = Lockfile.Locked.of("hf://org/name", fetch(up(MAIN)));
    String moved =
        hub.repo("org/name")
            .file("config.json", "{}".getBytes(StandardCharsets.UTF_8), false)
            .commit("main");
    assertThat(fetch(up(MAIN)).id()).isEqualTo(moved); // the cache now holds the moved branch
    Config down = at("http://localhost:" + closedPort(), MAIN);

    assertThatThrownBy(() -> fetch(down, Optional.of(locked)))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith("m - cannot reach localhost:");
    assertThat(states.stale("m")).isEmpty();
    assertThat(fetch(down).id()).as("unlocked, the ref decides").isEqualTo(moved);
  }

  @Test
  void aLaterCommitHoldingExactlyTheLockedFilesIsServedForTheLock() throws Exception {
    String included = MAIN + "    include: ['*.safetensors', '*.json']\n";
    Lockfile.Locked locked = Lockfile.Locked.of("hf://org/name", fetch(up(included)));
    String readme =
        hub.repo("org/name")
            .file("README.md", "# notes\n".getBytes(StandardCharsets.UTF_8), false)
            .commit("main");
    assertThat(fetch(up(included), Optional.of(locked)).id()).isEqualTo(readme);

    Config down = at("http://localhost:" + closedPort(), included);
    assertThat(fetch(down, Optional.of(locked)).id()).isEqualTo(readme);
    assertThat(states.stale("m").orElseThrow().revision()).isEqualTo(readme);
  }

  @Test
  void aCachedRevisionThatContradictsAPinIsNotServed() throws Exception {
    fetch(up(MAIN));
    String pin = "ab".repeat(32);
    int port = closedPort();
    Config pinned =
        at(
            "http://localhost:" + port,
            MAIN + "    sha256: {\"model.safetensors\": \"" + pin + "\"}\n");

    assertThatThrownBy(() -> fetch(pinned))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith("m - cannot reach localhost:" + port + " for revision main: ")
        .hasMessageEndingWith(
            "; the cached revision "
                + commit
                + " is not served instead: model.safetensors: sha256 "
                + S3FetchTest.sha256(WEIGHTS)
                + " in the cache, "
                + pin
                + " pinned in the config");
    assertThat(states.stale("m")).isEmpty();
  }

  @Test
  void aCachedRevisionMissingABlobIsNotServed() throws Exception {
    InstalledSnapshot first = fetch(up(MAIN));
    java.nio.file.Files.delete(
        first.files().stream()
            .filter(f -> f.path().equals("model.safetensors"))
            .findFirst()
            .orElseThrow()
            .blob()); // gone, or quarantined by the verification at start
    int port = closedPort();

    assertThatThrownBy(() -> fetch(at("http://localhost:" + port, MAIN)))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith("m - cannot reach localhost:" + port + " for revision main: ")
        .hasMessageEndingWith(
            "; the cached revision "
                + commit
                + " is not served instead: model.safetensors is missing or incomplete in the"
                + " cache");
  }

  @Test
  void notFoundAndDeniedAreNotOutages() throws Exception {
    fetch(up(MAIN));
    hub.fault(Fault.status("/revision/main", 404, null));
    assertThatThrownBy(() -> fetch(up(MAIN)))
        .hasMessage(
            "m - the Hub answered HTTP 404 for revision main of org/name: Injected fault: HTTP"
                + " 404");
    hub.fault(Fault.status("/revision/main", 401, null));
    assertThatThrownBy(() -> fetch(up(MAIN)))
        .hasMessage(
            "m - the Hub needs a token for revision main of org/name (HTTP 401): set HF_TOKEN");
    hub.fault(Fault.status("/revision/main", 403, null));
    assertThatThrownBy(() -> fetch(up(MAIN)))
        .hasMessage(
            "m - the Hub denied access to revision main of org/name (HTTP 403): check that the"
                + " token in HF_TOKEN can read it");
    assertThat(states.stale("m")).isEmpty();
    assertThat(sleeps).isEmpty();
  }

  @Test
  void nothingCachedStillFailsWithTheSourceError() throws Exception {
    int port = closedPort();
    assertThatThrownBy(() -> fetch(at("http://localhost:" + port, MAIN)))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith("m - cannot reach localhost:" + port + " for revision main: ")
        .hasMessageEndingWith(" (gave up after 4 attempts)");
    assertThat(sleeps).hasSize(ATTEMPTS - 1);
  }
}
