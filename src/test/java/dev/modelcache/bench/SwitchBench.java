package dev.modelcache.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.Poll;
import dev.modelcache.source.hub.FakeHub;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.OkHttpClient;
import okhttp3.Response;

/**
 * The switch of a watched model ({@code watch: {interval: 1s}}) when its branch moves on a fake Hub
 * while {@code BENCH_SWITCH_CLIENTS} (8) clients keep a daemon in a child JVM busy: the requests
 * served from the move to the first answer of the new commit, the non-200 answers of the whole run
 * (target 0), every answer from one of the two commits and none from the old one after the new one
 * for any client, and the time from the move to the new revision serving.
 */
public final class SwitchBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_REQUESTS = 1_000_000; // per client: a bound, never reached

  private SwitchBench() {}

  public static void main(String[] args) throws Exception {
    BenchTable.printAlone(SwitchBench::measure);
  }

  /** One answer: status, revision (or the body), completion time. */
  private record Answer(int code, String revision, long nanos) {}

  public static void measure(BenchTable table) throws Exception {
    int clients = Integer.parseInt(System.getenv().getOrDefault("BENCH_SWITCH_CLIENTS", "8"));
    Path iris = Path.of("models/iris").toAbsolutePath();
    try (FakeHub hub = FakeHub.start()) {
      String first =
          hub.repo("demo/iris")
              .file("model.pt", iris.resolve("model.pt"), true)
              .file("config.json", iris.resolve("config.json"), false)
              .commit("main");
      try (LoadBench.Child daemon =
          LoadBench.Child.start(
              Path.of("target/bench/switch"),
              "sources:\n  hf:\n    endpoint: " + hub.endpoint() + "\n",
              "  - name: iris\n    source: hf://demo/iris\n    watch: {interval: 1s}\n"
                  + "    workers: 2\n")) {
        OkHttpClient http = LoadBench.client(clients * 2);
        String url = daemon.base + "/inference/iris";
        AtomicBoolean stop = new AtomicBoolean();
        List<List<Answer>> answers = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> loads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
          List<Answer> mine = new ArrayList<>();
          answers.add(mine);
          loads.add(pool.submit(() -> load(http, url, stop, mine)));
        }
        Poll.until(
            Duration.ofSeconds(30), Duration.ofMillis(50), "load", () -> count(answers) > 1000);
        long moved = System.nanoTime();
        String second =
            hub.repo("demo/iris")
                .file("README.md", "second commit\n".getBytes(StandardCharsets.UTF_8), false)
                .commit("main");
        Poll.until(
            Duration.ofSeconds(120),
            Duration.ofMillis(20),
            "the new commit to answer",
            () -> firstOf(answers, second) > 0);
        long serving = firstOf(answers, second);
        long settled = System.nanoTime();
        Poll.until(
            Duration.ofSeconds(30),
            Duration.ofMillis(50),
            "load after",
            () -> System.nanoTime() - settled > 3e9);
        stop.set(true);
        for (Future<?> load : loads) {
          load.get();
        }
        pool.shutdown();
        report(table, clients, answers, first, second, moved, serving);
      }
    }
  }

  private static Void load(OkHttpClient http, String url, AtomicBoolean stop, List<Answer> mine)
      throws Exception {
    for (int i = 0; i < MAX_REQUESTS && !stop.get(); i++) {
      try (Response response =
          http.newCall(LoadBench.post(url, "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}")).execute()) {
        String body = response.body().string();
        String revision =
            response.code() == 200 ? JSON.readTree(body).path("revision").asText() : body;
        synchronized (mine) {
          mine.add(new Answer(response.code(), revision, System.nanoTime()));
        }
      }
    }
    return null;
  }

  private static int count(List<List<Answer>> answers) {
    int n = 0;
    for (List<Answer> mine : answers) {
      synchronized (mine) {
        n += mine.size();
      }
    }
    return n;
  }

  /** When the first answer from {@code revision} came, or 0. */
  private static long firstOf(List<List<Answer>> answers, String revision) {
    long first = 0;
    for (List<Answer> mine : answers) {
      synchronized (mine) {
        for (Answer a : mine) {
          if (a.revision().equals(revision) && (first == 0 || a.nanos() < first)) {
            first = a.nanos();
          }
        }
      }
    }
    return first;
  }

  private static void report(
      BenchTable table,
      int clients,
      List<List<Answer>> answers,
      String first,
      String second,
      long moved,
      long serving) {
    int total = 0;
    int during = 0;
    int non200 = 0;
    int foreign = 0;
    int oldAfterNew = 0;
    for (List<Answer> mine : answers) {
      boolean seenNew = false;
      for (Answer a : mine) {
        total++;
        if (a.nanos() >= moved && a.nanos() <= serving) {
          during++;
        }
        if (a.code() != 200) {
          non200++;
        } else if (!Set.of(first, second).contains(a.revision())) {
          foreign++;
        } else if (a.revision().equals(second)) {
          seenNew = true;
        } else if (seenNew) {
          oldAfterNew++;
        }
      }
    }
    double seconds = (serving - moved) / 1e9;
    table.note(
        "switch: iris on a fake Hub (loopback) with `watch: {interval: 1s}`, `workers: 2`, in a child"
            + " JVM; %d clients in a closed loop; the branch moved (a commit adding a README) under"
            + " load; %d answers in all",
        clients, total);
    table.add(
        "switch",
        "requests served while the branch moved and the new commit came in",
        BenchTable.fmt(
            "%d served, %d non-200, %d from neither commit, %d old after new",
            during, non200, foreign, oldAfterNew),
        "",
        "0 non-200, each answer from one commit",
        non200 == 0 && foreign == 0 && oldAfterNew == 0);
    table.add(
        "switch",
        "time from the branch moving to the new revision serving",
        BenchTable.fmt("%.2f s", seconds),
        "watch interval 1 s (+-10 %)",
        "< 10 s",
        seconds < 10);
  }
}
