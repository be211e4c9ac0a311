package dev.modelcache.cli;

import static dev.modelcache.cli.ReloadProcessTest.EVERY;
import static dev.modelcache.cli.ReloadProcessTest.WAIT;
import static dev.modelcache.cli.ReloadProcessTest.client;
import static dev.modelcache.cli.ReloadProcessTest.get;
import static dev.modelcache.cli.ReloadProcessTest.infer;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.cli.ReloadProcessTest.Reply;
import dev.modelcache.source.hub.FakeHub;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code watch:} against a fake Hub whose branch moves while a daemon (a child process) is under
 * load: every answer is 200 and from exactly one of the two commits, each client sees the new one
 * only after the old, and the old one is drained; a model that {@code modelcache.lock} holds does
 * not move; failed polls back off while the model keeps serving. Prints the switch's figures (the
 * benchmark's "switch" row).
 */
class UpstreamWatchProcessTest {
  private static final int CLIENTS = 4;
  private static final int MAX_REQUESTS = 200_000; // a bound on the load loop, never reached

  @TempDir Path tmp;

  private static FakeHub.Repo iris(FakeHub hub, String repo) {
    return hub.repo(repo)
        .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
        .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false);
  }

  private String yaml(FakeHub hub, String models) {
    return "cache:\n  dir: "
        + tmp.resolve("cache")
        + "\nsources:\n  hf:\n    endpoint: "
        + hub.endpoint()
        + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  shutdown_grace_seconds: 10\nmodels:\n"
        + models;
  }

  private static String watched(String name, String repo) {
    return "  - name: " + name + "\n    source: hf://" + repo + "\n    watch: {interval: 1s}\n";
  }

  @Test
  void followsAMovedBranchUnderLoadWithoutAFailedAnswer() throws Exception {
    try (FakeHub hub = FakeHub.start()) {
      String first = iris(hub, "demo/iris").commit("main");
      String held = iris(hub, "demo/held").commit("main");
      Path config = tmp.resolve("modelcache.yaml");
      // modelcache.lock holds demo/held only: lock it alone, then add the watched iris
      Files.writeString(config, yaml(hub, watched("held", "demo/held")));
      CliRun lock = CliRun.of("lock", "-c", config.toString());
      assertThat(lock.code()).as(lock.err()).isZero();
      Files.writeString(
          config, yaml(hub, watched("iris", "demo/iris") + watched("held", "demo/held")));
      OkHttpClient http = client();
      ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
      try (ChildDaemon child = ChildDaemon.start(config, Map.of())) {
        String base = "http://127.0.0.1:" + child.awaitReady(WAIT);
        child.awaitMessage(m -> m.startsWith("held - not watching hf://demo/held"), WAIT);
        assertThat(infer(http, base, "iris").json().get("revision").asText()).isEqualTo(first);

        List<List<Reply>> perClient = new ArrayList<>();
        List<Reply> all = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<?>> loads = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
          List<Reply> mine = Collections.synchronizedList(new ArrayList<>());
          perClient.add(mine);
          loads.add(
              pool.submit(
                  () -> {
                    for (int i = 0; i < MAX_REQUESTS && !stop.get(); i++) {
                      Reply reply = infer(http, base, "iris");
                      mine.add(reply);
                      all.add(reply);
                    }
                    return null;
                  }));
        }
        Poll.until(WAIT, EVERY, "answers before the move", () -> all.size() >= 40);
        int before = all.size();
        long moved = System.nanoTime();
        String second =
            hub.repo("demo/iris")
                .file("README.md", "iris, second commit\n".getBytes(StandardCharsets.UTF_8), false)
                .commit("main");
        String heldMoved =
            hub.repo("demo/held")
                .file("README.md", "held, second commit\n".getBytes(StandardCharsets.UTF_8), false)
                .commit("main");
        Poll.until(
            WAIT,
            EVERY,
            () -> revisionOf(http, base, "iris"),
            revision -> revision.equals(second),
            revision -> "still " + revision);
        double seconds = (System.nanoTime() - moved) / 1e9;
        int during = all.size() - before;
        child.awaitMessage(
            m -> m.equals("iris - revision " + first + " drained and unloaded"), WAIT);
        int switched = all.size();
        Poll.until(WAIT, EVERY, "answers after the switch", () -> all.size() >= switched + 40);
        stop.set(true);
        for (Future<?> load : loads) {
          load.get();
        }

        List<Reply> replies = List.copyOf(all);
        long non200 = replies.stream().filter(r -> r.code() != 200).count();
        System.out.printf(
            Locale.ROOT,
            "switch: %d requests during the switch (branch moved -> new revision serving),"
                + " non-200 %d, %.2f s from the move to the new revision serving (%d clients)%n",
            during,
            non200,
            seconds,
            CLIENTS);
        assertThat(replies).allSatisfy(r -> assertThat(r.code()).as(r.body()).isEqualTo(200));
        List<String> revisions = new ArrayList<>();
        for (Reply reply : replies) {
          revisions.add(reply.json().get("revision").asText());
        }
        assertThat(Set.copyOf(revisions)).containsExactlyInAnyOrder(first, second);
        assertThat(revisions.subList(switched, revisions.size())).containsOnly(second);
        for (List<Reply> mine : perClient) {
          List<String> seen = new ArrayList<>();
          for (Reply reply : List.copyOf(mine)) {
            seen.add(reply.json().get("revision").asText());
          }
          // each client, once answered by the new commit, is never answered by the old one again
          int firstNew = seen.indexOf(second);
          assertThat(firstNew).isPositive();
          assertThat(seen.subList(firstNew, seen.size())).containsOnly(second);
        }
        child.awaitMessage(
            m -> m.equals("iris - hf://demo/iris moved " + first + " -> " + second + "; updating"),
            WAIT);
        Poll.until(WAIT, EVERY, "held polled since the move", () -> heldPolls(http, base) >= 3);
        assertThat(revisionOf(http, base, "held")).isEqualTo(held);
        String metrics = get(http, base + "/metrics").body();
        assertThat(metrics)
            .contains("modelcache_watch_polls_total{model=\"iris\",outcome=\"moved\"} 1.0")
            .contains("modelcache_watch_polls_total{model=\"held\",outcome=\"moved\"} 0.0")
            .contains("modelcache_watch_last_change_timestamp_seconds{model=\"iris\"}");
        assertThat(child.lines().stream().filter(l -> l.contains("held - not watching")))
            .hasSize(1);

        // what 'modelcache lock' would change now, nothing downloaded or written
        byte[] locked = Files.readAllBytes(tmp.resolve("modelcache.lock"));
        CliRun check = CliRun.of("lock", "--check", "-c", config.toString());
        assertThat(check.code()).as(check.err()).isEqualTo(1);
        assertThat(check.out())
            .isEqualTo(
                "iris: not locked for hf://demo/iris; would lock "
                    + second.substring(0, 12)
                    + ", 3 files\n"
                    + "held: main "
                    + held.substring(0, 12)
                    + " -> "
                    + heldMoved.substring(0, 12)
                    + ": 0 files changed, 1 added (README.md), 0 removed\n");
        assertThat(Files.readAllBytes(tmp.resolve("modelcache.lock"))).isEqualTo(locked);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void failedPollsBackOffWhileTheModelKeepsServing() throws Exception {
    try (FakeHub hub = FakeHub.start()) {
      String first = iris(hub, "demo/iris").commit("main");
      Path config = tmp.resolve("modelcache.yaml");
      Files.writeString(config, yaml(hub, watched("iris", "demo/iris")));
      OkHttpClient http = client();
      try (ChildDaemon child = ChildDaemon.start(config, Map.of())) {
        String base = "http://127.0.0.1:" + child.awaitReady(WAIT);
        child.awaitMessage(m -> m.startsWith("iris - watching hf://demo/iris"), WAIT);
        hub.fault(FakeHub.Fault.status("/revision/main", 503, null));
        hub.fault(FakeHub.Fault.status("/revision/main", 503, null));
        JsonNode warned =
            child.awaitMessage(m -> m.startsWith("iris - cannot poll hf://demo/iris"), WAIT);
        Reply during = infer(http, base, "iris");
        assertThat(during.code()).as(during.body()).isEqualTo(200);
        assertThat(during.json().get("revision").asText()).isEqualTo(first);
        JsonNode again =
            child.awaitMessage(
                m -> m.equals("iris - hf://demo/iris answers again after 2 failed poll(s)"), WAIT);
        // backoff: 2 s then 4 s (give or take 10 %) after the first failure, not 1 s each
        Duration between =
            Duration.between(
                OffsetDateTime.parse(warned.path("@timestamp").asText()).toInstant(),
                OffsetDateTime.parse(again.path("@timestamp").asText()).toInstant());
        assertThat(between).isGreaterThan(Duration.ofMillis(5300));
        assertThat(child.lines().stream().filter(l -> l.contains("cannot poll"))).hasSize(1);
        assertThat(get(http, base + "/metrics").body())
            .contains("modelcache_watch_polls_total{model=\"iris\",outcome=\"failed\"} 2.0");
        assertThat(infer(http, base, "iris").code()).isEqualTo(200);
      }
    }
  }

  private static double heldPolls(OkHttpClient http, String base) throws Exception {
    String metrics = get(http, base + "/metrics").body();
    String prefix = "modelcache_watch_polls_total{model=\"held\",outcome=\"held\"} ";
    int at = metrics.indexOf(prefix);
    return at < 0 ? 0 : Double.parseDouble(metrics.substring(at + prefix.length()).split("\n")[0]);
  }

  private static String revisionOf(OkHttpClient http, String base, String model) throws Exception {
    return get(http, base + "/models/" + model).json().path("revision").asText();
  }
}
