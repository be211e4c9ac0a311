package dev.modelcache.bench;

import dev.modelcache.Poll;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Overload and soak against a daemon in a child JVM (the launcher, {@link Launcher}, on the jar) on
 * loopback, serving the committed iris model.
 *
 * <ul>
 *   <li>capacity: a closed loop at concurrency 32 for {@code BENCH_CAPACITY_SECONDS} (10);
 *   <li>overload: an open loop at twice that rate for {@code BENCH_OVERLOAD_SECONDS} (60), the
 *       request count bounded by rate x duration and the run by a deadline: every answer must be
 *       200 or 503 with {@code Retry-After}; accepted requests' p99 and the resident memory over
 *       time are reported (latency is counted from the intended send time, so a stalled client does
 *       not hide queueing);
 *   <li>soak: {@code BENCH_SOAK_SECONDS} (600) of mixed requests (good and bad inference, health,
 *       models, metrics, unknown models) at concurrency 8; heap after a forced GC ({@code jcmd
 *       GC.run}), live threads and open files sampled every 30 s: the last sample against the
 *       first.
 * </ul>
 */
public final class LoadBench {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final Pattern RSS = Pattern.compile("VmRSS:\\s+(\\d+) kB");

  private LoadBench() {}

  public static void main(String[] args) throws Exception {
    boolean soak = args.length > 0 && args[0].equals("soak");
    BenchTable.printAlone(soak ? LoadBench::soak : LoadBench::overload);
  }

  /** Capacity, then twice of it for a minute. */
  public static void overload(BenchTable table) throws Exception {
    int capacitySeconds = env("BENCH_CAPACITY_SECONDS", 10);
    int overloadSeconds = env("BENCH_OVERLOAD_SECONDS", 60);
    try (Child daemon = Child.start(Path.of("target/bench/load"))) {
      OkHttpClient http = client(512);
      String url = daemon.base + "/inference/iris";
      String body = "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}";
      // warm up, then the closed-loop capacity
      closedLoop(http, 8, 3, i -> post(url, body));
      Stats capacity = closedLoop(http, 32, capacitySeconds, i -> post(url, body));
      double rate = 2 * capacity.perSecond();

      long rssBefore = daemon.rssKb();
      Stats overload = openLoop(http, rate, overloadSeconds, i -> post(url, body), daemon);
      long rssEnd = daemon.rssKb();
      // flat: what the first 10 s of overload took (heap and buffers growing to their working
      // size) is not a leak; what grows after it would be
      long rssStart = daemon.rssAt(10);
      long other = overload.total() - overload.ok() - overload.busyWithRetryAfter();
      table.note(
          "overload: the iris model (`workers: 1`, `queue: 64`, defaults) in a child JVM; capacity"
              + " measured with 32 clients in a closed loop for %d s; then an open loop at twice"
              + " that for %d s (%d requests sent)",
          capacitySeconds, overloadSeconds, overload.total());
      table.info(
          "overload",
          "capacity (closed loop, 32 clients)",
          BenchTable.fmt("%.0f req/s, p99 %.1f ms", capacity.perSecond(), capacity.p(0.99)),
          "");
      table.add(
          "overload",
          BenchTable.fmt("answers at 2x capacity (%.0f req/s offered)", rate),
          BenchTable.fmt(
              "%d x 200, %d x 503 with Retry-After, %d other",
              overload.ok(), overload.busyWithRetryAfter(), other),
          "",
          "only 200 or 503 + Retry-After",
          other == 0);
      table.add(
          "overload",
          "accepted requests' latency at 2x capacity",
          BenchTable.fmt("p50 %.1f ms, p99 %.1f ms", overload.p(0.5), overload.p(0.99)),
          BenchTable.fmt("at capacity: p99 %.1f ms", capacity.p(0.99)),
          "p99 < 1 s (bounded by the queue)",
          overload.p(0.99) < 1000);
      table.add(
          "overload",
          "resident memory during overload",
          BenchTable.fmt(
              "%d MB after 10 s of overload, %d MB at the end (%d s), %d MB peak",
              rssStart / 1024, rssEnd / 1024, overloadSeconds, daemon.rssPeakKb / 1024),
          BenchTable.fmt("before the overload: %d MB", rssBefore / 1024),
          "flat (end < 10 s + 64 MB)",
          rssEnd < rssStart + 64 * 1024);
    }
  }

  /** Mixed requests for a while; heap after GC, threads and open files sampled. */
  public static void soak(BenchTable table) throws Exception {
    int seconds = env("BENCH_SOAK_SECONDS", 600);
    try (Child daemon = Child.start(Path.of("target/bench/soak"))) {
      OkHttpClient http = client(64);
      String base = daemon.base;
      List<Request> mix =
          List.of(
              post(base + "/inference/iris", "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}"),
              post(
                  base + "/inference", "{\"model\": \"iris\", \"inputs\": [[6.7, 3.0, 5.2, 2.3]]}"),
              post(base + "/inference/iris", "{\"inputs\": [[5.1, 3.4"),
              post(base + "/inference/iris", "{\"inputs\": [1, 2, 3]}"),
              post(base + "/inference/nope", "{\"inputs\": [1]}"),
              get(base + "/health"),
              get(base + "/models"),
              get(base + "/metrics"),
              get(base + "/health/ready"));
      // the load runs on its own threads; samples are taken here every 30 s. The first is of the
      // idle daemon; the one after 30 s of load is the baseline (thread pools and connections at
      // their working size), against which the last one is judged.
      long[] idle = daemon.sample(http);
      ExecutorService loader =
          Executors.newSingleThreadExecutor(
              r -> {
                Thread thread = new Thread(r, "soak-load");
                thread.setDaemon(true); // a failed sample must not leave the JVM running
                return thread;
              });
      java.util.concurrent.Future<Stats> load =
          loader.submit(() -> closedLoop(http, 8, seconds, i -> mix.get((int) (i % mix.size()))));
      List<long[]> samples = new ArrayList<>();
      long start = System.nanoTime();
      while (!load.isDone()) {
        long next = start + TimeUnit.SECONDS.toNanos(30L * (samples.size() + 1));
        while (!load.isDone() && System.nanoTime() < next) {
          TimeUnit.MILLISECONDS.sleep(200); // a sampling period, not synchronisation
        }
        if (!load.isDone()) {
          samples.add(daemon.sample(http));
        }
      }
      Stats stats = load.get();
      loader.shutdown();
      samples.add(daemon.sample(http));
      long[] first = samples.get(0);
      long[] last = samples.get(samples.size() - 1);
      long[] most = new long[3];
      for (long[] sample : samples) {
        for (int k = 0; k < 3; k++) {
          most[k] = Math.max(most[k], sample[k]);
        }
      }
      table.note(
          "soak: %d s of mixed requests (%d kinds, good and bad) at concurrency 8 against the iris"
              + " model in a child JVM; %d samples, one every 30 s, of heap after `jcmd GC.run`, live"
              + " threads and open files, judged against the one after 30 s of load",
          seconds, mix.size(), samples.size());
      table.info(
          "soak",
          "requests served",
          BenchTable.fmt(
              "%d (%.0f req/s), %d 5xx", stats.total(), stats.perSecond(), stats.errors()),
          "");
      table.add(
          "soak",
          "heap after GC: idle, after 30 s, at the end (max)",
          BenchTable.fmt(
              "%.1f, %.1f, %.1f MB (%.1f)",
              idle[0] / 1e6, first[0] / 1e6, last[0] / 1e6, most[0] / 1e6),
          "",
          "no growth (< +16 MB)",
          last[0] < first[0] + 16_000_000);
      table.add(
          "soak",
          "live threads: idle, after 30 s, at the end (max)",
          idle[1] + ", " + first[1] + ", " + last[1] + " (" + most[1] + ")",
          "",
          "no growth (<= +4)",
          last[1] <= first[1] + 4);
      table.add(
          "soak",
          "open files: idle, after 30 s, at the end (max)",
          idle[2] + ", " + first[2] + ", " + last[2] + " (" + most[2] + ")",
          "",
          "no growth (<= +4)",
          last[2] <= first[2] + 4);
    }
  }

  // ---- load generation ----------------------------------------------------------------------

  interface Requests {
    Request get(long index);
  }

  /** Answers and the latencies of the 200s. */
  static final class Stats {
    final LongAdder ok = new LongAdder();
    final LongAdder busy = new LongAdder();
    final LongAdder errors = new LongAdder();
    final LongAdder other = new LongAdder();
    final List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
    final ConcurrentHashMap<Integer, LongAdder> codes = new ConcurrentHashMap<>();
    double seconds;

    void record(int code, String retryAfter, long nanos) {
      codes.computeIfAbsent(code, c -> new LongAdder()).increment();
      if (code == 200) {
        ok.increment();
        latencies.add(nanos);
      } else if (code == 503 && retryAfter != null) {
        busy.increment();
      } else if (code >= 500 || code < 0) {
        errors.increment();
      } else {
        other.increment();
      }
    }

    long ok() {
      return ok.sum();
    }

    long busyWithRetryAfter() {
      return busy.sum();
    }

    long errors() {
      return errors.sum();
    }

    long total() {
      return ok.sum() + busy.sum() + errors.sum() + other.sum();
    }

    double perSecond() {
      return ok.sum() / seconds;
    }

    /** The q-quantile of the 200s' latencies in ms. */
    double p(double q) {
      List<Long> sorted;
      synchronized (latencies) {
        sorted = new ArrayList<>(latencies);
      }
      if (sorted.isEmpty()) {
        return Double.NaN;
      }
      Collections.sort(sorted);
      return sorted.get(Math.min(sorted.size() - 1, (int) (q * sorted.size()))) / 1e6;
    }
  }

  /** {@code clients} threads sending back to back for {@code seconds}. */
  static Stats closedLoop(OkHttpClient http, int clients, int seconds, Requests requests)
      throws InterruptedException {
    Stats stats = new Stats();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    AtomicLong counter = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    long start = System.nanoTime();
    for (int c = 0; c < clients; c++) {
      pool.submit(
          () -> {
            while (System.nanoTime() < end) {
              long t0 = System.nanoTime();
              send(http, requests.get(counter.getAndIncrement()), stats, t0);
            }
          });
    }
    pool.shutdown();
    pool.awaitTermination(seconds + 60L, TimeUnit.SECONDS);
    stats.seconds = (System.nanoTime() - start) / 1e9;
    return stats;
  }

  /**
   * Requests at {@code rate} per second for {@code seconds}, each at its scheduled time whatever
   * the answers; at most rate x seconds requests, and a deadline of seconds + 60.
   */
  static Stats openLoop(
      OkHttpClient http, double rate, int seconds, Requests requests, Child daemon)
      throws Exception {
    Stats stats = new Stats();
    long count = (long) (rate * seconds);
    long interval = (long) (1e9 / rate);
    ExecutorService pool = Executors.newFixedThreadPool(256);
    long start = System.nanoTime();
    long nextRss = start;
    for (long i = 0; i < count; i++) {
      long due = start + i * interval;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait); // pacing the offered load
      }
      if (System.nanoTime() >= nextRss) {
        daemon.rssKb();
        nextRss += TimeUnit.SECONDS.toNanos(1);
      }
      long index = i;
      pool.submit(() -> send(http, requests.get(index), stats, due));
    }
    pool.shutdown();
    if (!pool.awaitTermination(60, TimeUnit.SECONDS)) {
      pool.shutdownNow();
    }
    stats.seconds = (System.nanoTime() - start) / 1e9;
    return stats;
  }

  private static void send(OkHttpClient http, Request request, Stats stats, long t0) {
    try (Response response = http.newCall(request).execute()) {
      response.body().bytes();
      stats.record(response.code(), response.header("Retry-After"), System.nanoTime() - t0);
    } catch (IOException e) {
      stats.record(-1, null, System.nanoTime() - t0);
    }
  }

  static OkHttpClient client(int connections) {
    Dispatcher dispatcher = new Dispatcher();
    dispatcher.setMaxRequests(connections);
    dispatcher.setMaxRequestsPerHost(connections);
    return new OkHttpClient.Builder()
        .dispatcher(dispatcher)
        .connectionPool(new ConnectionPool(connections, 1, TimeUnit.MINUTES))
        .readTimeout(30, TimeUnit.SECONDS)
        .retryOnConnectionFailure(false)
        .build();
  }

  static Request post(String url, String body) {
    return new Request.Builder().url(url).post(RequestBody.create(body, JSON)).build();
  }

  private static Request get(String url) {
    return new Request.Builder().url(url).build();
  }

  private static int env(String name, int fallback) {
    return Integer.parseInt(System.getenv().getOrDefault(name, String.valueOf(fallback)));
  }

  // ---- the daemon under test ----------------------------------------------------------------

  /** {@code modelcache serve} in a child JVM with the demo iris model. */
  static final class Child implements AutoCloseable {
    final Process process;
    final String base;
    long rssPeakKb;

    private Child(Process process, String base) {
      this.process = process;
      this.base = base;
    }

    static Child start(Path work) throws Exception {
      return start(
          work,
          "",
          "  - name: iris\n    source: file:" + Path.of("models/iris").toAbsolutePath() + "\n");
    }

    /** A daemon with {@code top} (whole YAML sections, such as sources:) and {@code models}. */
    static Child start(Path work, String top, String models) throws Exception {
      Files.createDirectories(work);
      int port;
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
        port = socket.getLocalPort();
      }
      Path config = work.resolve("load.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + work.resolve("cache").toAbsolutePath()
              + "\nserver:\n  host: 127.0.0.1\n  port: "
              + port
              + "\n"
              + top
              + "models:\n"
              + models,
          StandardCharsets.UTF_8);
      Process process =
          new ProcessBuilder(Launcher.command(work, "serve", "-c", config.toString()))
              .redirectErrorStream(true)
              .redirectOutput(work.resolve("serve.log").toFile())
              .start();
      Child child = new Child(process, "http://127.0.0.1:" + port);
      OkHttpClient http = client(1);
      try {
        Poll.until(
            Duration.ofSeconds(120),
            Duration.ofMillis(50),
            "serve to be ready: see " + work.resolve("serve.log"),
            () -> {
              if (!process.isAlive()) {
                throw new IllegalStateException("serve exited: see " + work.resolve("serve.log"));
              }
              try (Response response = http.newCall(get(child.base + "/health/ready")).execute()) {
                return response.code() == 200;
              } catch (IOException notYet) {
                return false;
              }
            });
        return child;
      } catch (Exception | AssertionError e) {
        child.close();
        throw e;
      }
    }

    /** RSS samples (kB) taken by {@link #rssKb()}, one per call, with their time from the first. */
    final List<long[]> rssSamples = Collections.synchronizedList(new ArrayList<>());

    /** The first sample at least {@code seconds} after the first one. */
    long rssAt(int seconds) {
      synchronized (rssSamples) {
        long first = rssSamples.get(0)[0];
        for (long[] sample : rssSamples) {
          if (sample[0] - first >= TimeUnit.SECONDS.toNanos(seconds)) {
            return sample[1];
          }
        }
        return rssSamples.get(rssSamples.size() - 1)[1];
      }
    }

    long rssKb() throws IOException {
      Matcher m =
          RSS.matcher(
              Files.readString(
                  Path.of("/proc/" + process.pid() + "/status"), StandardCharsets.UTF_8));
      long kb = m.find() ? Long.parseLong(m.group(1)) : -1;
      rssPeakKb = Math.max(rssPeakKb, kb);
      rssSamples.add(new long[] {System.nanoTime(), kb});
      return kb;
    }

    /** Heap used after a forced GC (bytes), live threads, open files. */
    long[] sample(OkHttpClient http) throws Exception {
      Process gc =
          new ProcessBuilder("jcmd", String.valueOf(process.pid()), "GC.run")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      gc.waitFor(60, TimeUnit.SECONDS);
      long heap = 0;
      long threads = 0;
      // a client of its own that retries on a fresh connection: a pooled one may have been idle
      // for the server's 30 s idle timeout since the last sample
      OkHttpClient sampling = http.newBuilder().retryOnConnectionFailure(true).build();
      try (Response response = sampling.newCall(get(base + "/metrics")).execute()) {
        for (String line : response.body().string().split("\n")) {
          if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
            heap += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
          } else if (line.startsWith("jvm_threads_live_threads ")) {
            threads = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
          }
        }
      }
      long files;
      try (Stream<Path> fds = Files.list(Path.of("/proc/" + process.pid() + "/fd"))) {
        files = fds.count();
      }
      return new long[] {heap, threads, files};
    }

    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
