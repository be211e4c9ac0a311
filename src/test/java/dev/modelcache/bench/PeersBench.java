package dev.modelcache.bench;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * modelcache and its peers on the same model, in the same run, under the same external load
 * generator ({@code wrk}, a process of its own, not a client in the daemon's JVM): for the
 * TorchScript model {@code models/iris} and for all-MiniLM-L6-v2 (ONNX, text-embedding),
 *
 * <ul>
 *   <li>modelcache ({@code target/modelcache.jar serve} in a child JVM, {@code BENCH_WORKERS}
 *       workers, no batching), {@code POST /inference/{model}};
 *   <li>the Python peer: FastAPI + uvicorn[standard], 2 worker processes, torch (iris) or
 *       onnxruntime + tokenizers (MiniLM) with one thread each ({@code bench/peers/}), the same
 *       request and the same answer;
 *   <li>the ceiling of the HTTP stack: modelcache's own {@code GET /health/live} (no model).
 * </ul>
 *
 * <p>Each server at concurrency 1, 8 and 32, {@code BENCH_SECONDS} (default 10) a phase, the
 * servers interleaved (a, b, c at 1, then at 8, then at 32) for {@code BENCH_ROUNDS} rounds
 * (default 2), medians over the rounds; resident memory of the server's process tree (VmRSS, summed
 * over the uvicorn master and its workers) after the runs. Prints a table of its own through {@link
 * BenchTable#section}. Run with {@code bench/run.sh peers} alone, or as part of {@code bench/run.sh
 * inference}.
 *
 * <p>A peer that cannot run is skipped with the reason in the notes: no {@code wrk} skips all, a
 * Python environment that {@code bench/peers/setup.sh} cannot set up skips the Python peers.
 */
public final class PeersBench {
  private static final int[] CONCURRENCY = {1, 8, 32};

  /** The batching rows' settings: issue #18's goal names them. */
  static final int BATCH_SIZE = 16;

  static final int BATCH_DELAY_MS = 5;

  /**
   * Each {@link GrpcLoad} JVM's own warm-up before its measured phase (its JIT, not the daemon's).
   */
  static final int GRPC_WARM_UP_SECONDS = 2;

  static final String BATCHING =
      "batching `max_size: " + BATCH_SIZE + ", max_delay_ms: " + BATCH_DELAY_MS + "`";
  private static final Pattern RESULT =
      Pattern.compile(
          "RESULT requests=(\\d+) seconds=([0-9.]+) p50_us=(\\d+) p99_us=(\\d+) errors=(\\d+)");

  /** Why the Python peers were skipped, when {@link #setUpPython} returned null. */
  private static String pythonSkip = "";

  private PeersBench() {}

  public static void main(String[] args) throws Exception {
    BenchTable.printAlone(PeersBench::measure);
  }

  /** One load generator run: throughput, latency percentiles in ms, failed requests. */
  record Result(long requests, double perSecond, double p50, double p99, long errors) {}

  /** A server under test: where to send what, and the processes whose memory is its own. */
  interface Target extends AutoCloseable {
    String name();

    /**
     * What the row is, for the ratios under the table: {@code modelcache}, {@code batched}, {@code
     * grpc}, {@code fastapi} or {@code ceiling}.
     */
    String kind();

    /** The URL {@code wrk} loads, or {@code HOST:PORT} of a {@link GrpcTarget}. */
    String url();

    /** The JSON body of each request, or null for a GET. */
    String body();

    ProcessHandle process();

    @Override
    default void close() {}
  }

  public static void measure(BenchTable table) throws Exception {
    Duration phase =
        Duration.ofSeconds(Long.parseLong(System.getenv().getOrDefault("BENCH_SECONDS", "10")));
    int rounds = Integer.parseInt(System.getenv().getOrDefault("BENCH_ROUNDS", "2"));
    int workers = Integer.parseInt(System.getenv().getOrDefault("BENCH_WORKERS", "2"));
    Path work = Path.of("target/bench/peers").toAbsolutePath();
    Files.createDirectories(work);
    String wrk = version("wrk", "-v");
    if (wrk == null) {
      table.note(
          "peers: skipped: no `wrk` on PATH, the external load generator of these rows"
              + " (Debian: `apt-get install wrk`)");
      return;
    }
    String python = setUpPython();
    double[] load = {loadAverage(), 0};
    List<List<String>> lines = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    Map<String, Result[]> medians = new LinkedHashMap<>();
    Map<String, Integer> batch = new LinkedHashMap<>();

    // iris: modelcache without and with batching, over HTTP and gRPC, the FastAPI peer, and
    // modelcache's /health/live as the ceiling
    Path iris = Path.of("models/iris").toAbsolutePath();
    String irisBody = "{\"inputs\": [[5.1, 3.4, 1.5, 0.2]]}";
    Path irisGrpc = work.resolve("grpc-iris.bin");
    Files.write(irisGrpc, GrpcLoad.irisRequest("iris", 5.1f, 3.4f, 1.5f, 0.2f).toByteArray());
    try (InferenceBench.Daemon daemon =
            InferenceBench.Daemon.start(work, "peers-iris", iris, workers, 1, 0);
        InferenceBench.Daemon grpc =
            InferenceBench.Daemon.start(work, "peers-iris-grpc", iris, workers, 1, 0, "", true);
        InferenceBench.Daemon batched =
            InferenceBench.Daemon.start(
                work, "peers-iris-batched", iris, workers, BATCH_SIZE, BATCH_DELAY_MS);
        Target peer =
            python == null ? null : Peer.start(work, "iris_app", iris, "iris", workers, irisBody)) {
      batch.put("iris", batched.effectiveBatch("iris"));
      List<Target> targets = new ArrayList<>();
      targets.add(
          target(
              "modelcache",
              "modelcache: `POST /inference/iris`, " + workers + " workers",
              daemon.url("iris"),
              irisBody,
              daemon));
      targets.add(
          target(
              "batched",
              "modelcache: `POST /inference/iris`, " + workers + " workers, " + BATCHING,
              batched.url("iris"),
              irisBody,
              batched));
      targets.add(GrpcTarget.of("iris", grpc, workers, irisGrpc));
      if (peer != null) {
        targets.add(peer);
      }
      targets.add(
          target(
              "ceiling",
              "ceiling: modelcache `GET /health/live` (no model)",
              "http://127.0.0.1:" + daemon.port() + "/health/live",
              null,
              daemon));
      runAll("iris", targets, phase, rounds, work, lines, errors, medians);
    }

    // all-MiniLM-L6-v2 (text-embedding, mean pooling, normalised): modelcache without and with
    // batching, over HTTP and gRPC, and the FastAPI peer
    Path minilm = InferenceBench.miniLmDir();
    String sentence =
        "modelcache keeps every model verified on a shared volume and serves it to the backends"
            + " beside it";
    String minilmBody = "{\"inputs\": \"" + sentence + "\"}";
    Path minilmGrpc = work.resolve("grpc-minilm.bin");
    Files.write(minilmGrpc, GrpcLoad.textRequest("minilm", sentence).toByteArray());
    String extra = "\n    task: text-embedding\n    task_options: {pooling: mean, normalize: true}";
    try (InferenceBench.Daemon daemon =
            InferenceBench.Daemon.start(work, "peers-minilm", minilm, workers, 1, 0, extra);
        InferenceBench.Daemon grpc =
            InferenceBench.Daemon.start(
                work, "peers-minilm-grpc", minilm, workers, 1, 0, extra, true);
        InferenceBench.Daemon batched =
            InferenceBench.Daemon.start(
                work, "peers-minilm-batched", minilm, workers, BATCH_SIZE, BATCH_DELAY_MS, extra);
        Target peer =
            python == null
                ? null
                : Peer.start(work, "minilm_app", minilm, "minilm", workers, minilmBody)) {
      batch.put("all-MiniLM-L6-v2", batched.effectiveBatch("minilm"));
      List<Target> targets = new ArrayList<>();
      targets.add(
          target(
              "modelcache",
              "modelcache: `POST /inference/minilm`, " + workers + " workers",
              daemon.url("minilm"),
              minilmBody,
              daemon));
      targets.add(
          target(
              "batched",
              "modelcache: `POST /inference/minilm`, " + workers + " workers, " + BATCHING,
              batched.url("minilm"),
              minilmBody,
              batched));
      targets.add(GrpcTarget.of("minilm", grpc, workers, minilmGrpc));
      if (peer != null) {
        targets.add(peer);
      }
      runAll("all-MiniLM-L6-v2", targets, phase, rounds, work, lines, errors, medians);
    }
    load[1] = loadAverage();

    table.section(
        "Peers, all in this run: req/s by concurrency, medians of "
            + rounds
            + " interleaved rounds of "
            + phase.toSeconds()
            + " s",
        List.of(
            "model",
            "server",
            "req/s c=1",
            "req/s c=8",
            "req/s c=32",
            "p50 ms (c=1 / 8 / 32)",
            "p99 ms (c=1 / 8 / 32)",
            "RSS after the runs"),
        lines,
        PeerGoals.lines(medians, batch, BATCHING));
    table.note(
        "peers: load generators %s (`-t1`) for HTTP and `GrpcLoad` (src/test/.../bench, a JVM of"
            + " its own, one channel, %d s warm-up in each phase) for gRPC, each its own process"
            + " on the same cores, closed loop; 1-minute load average %.1f before and %.1f after"
            + " on %d cores%s; failed or non-2xx/non-OK answers: %s",
        wrk,
        GRPC_WARM_UP_SECONDS,
        load[0],
        load[1],
        Runtime.getRuntime().availableProcessors(),
        load[0] > Runtime.getRuntime().availableProcessors()
                || load[1] > Runtime.getRuntime().availableProcessors()
            ? " (a busy machine: these figures are not comparable with a quiet run)"
            : "",
        String.join(", ", errors));
    table.note(
        "peers: %s",
        python == null
            ? "the FastAPI peers skipped: " + pythonSkip
            : "FastAPI peers with " + python + " (bench/peers/, target/bench/peers-venv)");
    table.note(
        "peers: DJL Serving not run: ai.djl.serving:serving is not on Maven Central"
            + " (docs/performance.md, Peers)");
  }

  /** bench/peers/setup.sh; the peers' package versions, or null (and {@link #pythonSkip}). */
  private static String setUpPython() throws Exception {
    Process setup =
        new ProcessBuilder("bash", "bench/peers/setup.sh")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    String said = new String(setup.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (setup.waitFor() != 0) {
      pythonSkip = said.isEmpty() ? "bench/peers/setup.sh failed" : said;
      System.err.println("peers: skipping the Python peers: " + pythonSkip);
      return null;
    }
    Process versions =
        new ProcessBuilder(
                "target/bench/peers-venv/bin/python",
                "-c",
                "import sys, fastapi, uvicorn, torch, onnxruntime, tokenizers;"
                    + " print('Python %d.%d.%d' % sys.version_info[:3], 'fastapi', fastapi.__version__,"
                    + " 'uvicorn', uvicorn.__version__, 'torch', torch.__version__, 'onnxruntime',"
                    + " onnxruntime.__version__, 'tokenizers', tokenizers.__version__)")
            .redirectErrorStream(true)
            .start();
    String out =
        new String(versions.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (versions.waitFor() != 0) {
      pythonSkip = "the peers' environment does not import: " + out;
      System.err.println("peers: skipping the Python peers: " + pythonSkip);
      return null;
    }
    return out;
  }

  /**
   * Warms each target, then {@code rounds} rounds of every concurrency, the targets interleaved
   * within each; adds one line a target.
   */
  private static void runAll(
      String model,
      List<Target> targets,
      Duration phase,
      int rounds,
      Path work,
      List<List<String>> lines,
      List<String> errors,
      Map<String, Result[]> medianResults)
      throws Exception {
    // warm-up (the daemon's JIT, torch's profiling executor): one phase at 8, at least 2 s
    for (Target target : targets) {
      load(target, 8, Duration.ofSeconds(Math.max(2, phase.toSeconds())), work);
    }
    Map<Target, List<List<Result>>> results = new LinkedHashMap<>();
    for (Target target : targets) {
      List<List<Result>> byConcurrency = new ArrayList<>();
      for (int ignored : CONCURRENCY) {
        byConcurrency.add(new ArrayList<>());
      }
      results.put(target, byConcurrency);
    }
    for (int round = 0; round < rounds; round++) {
      for (int k = 0; k < CONCURRENCY.length; k++) {
        for (Target target : targets) {
          Result r = load(target, CONCURRENCY[k], phase, work);
          System.err.printf(
              "peers: %s, %s, c=%d, round %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors%n",
              model,
              target.name(),
              CONCURRENCY[k],
              round + 1,
              r.perSecond(),
              r.p50(),
              r.p99(),
              r.errors());
          results.get(target).get(k).add(r);
        }
      }
    }
    for (Target target : targets) {
      Result[] medians = new Result[CONCURRENCY.length];
      long failed = 0;
      for (int k = 0; k < CONCURRENCY.length; k++) {
        medians[k] = median(results.get(target).get(k));
        for (Result r : results.get(target).get(k)) {
          failed += r.errors();
        }
      }
      String kind = target.kind();
      medianResults.put(model + "/" + kind, medians);
      errors.add(model + " " + kind + " " + failed);
      long[] memory = treeMemoryKib(target.process());
      lines.add(
          List.of(
              model,
              target.name(),
              BenchTable.fmt("%.0f", medians[0].perSecond()),
              BenchTable.fmt("%.0f", medians[1].perSecond()),
              BenchTable.fmt("%.0f", medians[2].perSecond()),
              BenchTable.fmt(
                  "%.2f / %.2f / %.2f", medians[0].p50(), medians[1].p50(), medians[2].p50()),
              BenchTable.fmt(
                  "%.2f / %.2f / %.2f", medians[0].p99(), medians[1].p99(), medians[2].p99()),
              kind.equals("ceiling")
                  ? "(the first modelcache row's process)"
                  : BenchTable.fmt(
                      "%d MiB (%d process%s; PSS %d MiB)",
                      memory[0] / 1024, memory[2], memory[2] == 1 ? "" : "es", memory[1] / 1024)));
    }
  }

  /** The median of each figure over the rounds (each figure on its own). */
  static Result median(List<Result> results) {
    return new Result(
        (long) median(results.stream().mapToDouble(Result::requests).toArray()),
        median(results.stream().mapToDouble(Result::perSecond).toArray()),
        median(results.stream().mapToDouble(Result::p50).toArray()),
        median(results.stream().mapToDouble(Result::p99).toArray()),
        results.stream().mapToLong(Result::errors).sum());
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    java.util.Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  /** One phase of the target's load generator: {@link GrpcLoad} for gRPC, else {@code wrk}. */
  static Result load(Target target, int connections, Duration phase, Path work) throws Exception {
    return target instanceof GrpcTarget grpc
        ? grpcLoad(grpc, connections, phase)
        : wrk(target, connections, phase, work);
  }

  /** One {@link GrpcLoad} run, in a JVM of its own: {@code concurrency} calls, {@code phase}. */
  static Result grpcLoad(GrpcTarget target, int concurrency, Duration phase) throws Exception {
    List<String> command =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx256m",
            "-cp",
            System.getProperty("java.class.path"),
            GrpcLoad.class.getName(),
            target.url(),
            target.request().toString(),
            Integer.toString(concurrency),
            Long.toString(Math.max(1, phase.toSeconds())),
            Long.toString(GRPC_WARM_UP_SECONDS));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IllegalStateException(
          "GrpcLoad failed against " + target.url() + " (" + target.request() + "):\n" + out);
    }
    return parse(out, "GrpcLoad");
  }

  /** One {@code wrk} run against {@code target}: one thread, {@code connections}, {@code phase}. */
  static Result wrk(Target target, int connections, Duration phase, Path work) throws Exception {
    List<String> command =
        List.of(
            "wrk",
            "-t1",
            "-c" + connections,
            "-d" + Math.max(1, phase.toSeconds()) + "s",
            "--timeout",
            "10s",
            "-s",
            Path.of("bench/peers/wrk.lua").toAbsolutePath().toString(),
            target.url());
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    if (target.body() != null) {
      Path body = work.resolve("body-" + Integer.toHexString(target.body().hashCode()) + ".json");
      Files.writeString(body, target.body(), StandardCharsets.UTF_8);
      builder.environment().put("WRK_METHOD", "POST");
      builder.environment().put("WRK_BODY_FILE", body.toString());
    } else {
      builder.environment().put("WRK_METHOD", "GET");
      builder.environment().remove("WRK_BODY_FILE");
    }
    Process process = builder.start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IllegalStateException("wrk failed: " + String.join(" ", command) + "\n" + out);
    }
    return parse(out, "wrk (bench/peers/wrk.lua)");
  }

  /** The RESULT line of {@code wrk.lua} or {@link GrpcLoad} in a load generator's output. */
  static Result parse(String out, String generator) {
    Matcher m = RESULT.matcher(out);
    if (!m.find()) {
      throw new IllegalStateException("no RESULT line from " + generator + ":\n" + out);
    }
    long requests = Long.parseLong(m.group(1));
    double seconds = Double.parseDouble(m.group(2));
    return new Result(
        requests,
        requests / seconds,
        Long.parseLong(m.group(3)) / 1000.0,
        Long.parseLong(m.group(4)) / 1000.0,
        Long.parseLong(m.group(5)));
  }

  /**
   * VmRSS and PSS summed over a process and its descendants, in KiB, and how many processes: the
   * uvicorn master and its workers, or the one JVM.
   */
  static long[] treeMemoryKib(ProcessHandle root) throws IOException {
    long rss = 0;
    long pss = 0;
    long count = 0;
    List<ProcessHandle> all = new ArrayList<>();
    all.add(root);
    try (Stream<ProcessHandle> descendants = root.descendants()) {
      descendants.forEach(all::add);
    }
    for (ProcessHandle p : all) {
      Path proc = Path.of("/proc", Long.toString(p.pid()));
      try {
        rss += field(Files.readAllLines(proc.resolve("status")), "VmRSS:");
        Path rollup = proc.resolve("smaps_rollup");
        if (Files.isReadable(rollup)) {
          pss += field(Files.readAllLines(rollup), "Pss:");
        }
        count++;
      } catch (IOException e) {
        // the process ended meanwhile
      }
    }
    return new long[] {rss, pss, count};
  }

  private static long field(List<String> lines, String name) {
    for (String line : lines) {
      if (line.startsWith(name)) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return 0;
  }

  private static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /** The first line a tool prints of its version, or null when it is not on PATH. */
  private static String version(String tool, String flag) {
    try {
      Process p = new ProcessBuilder(tool, flag).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      String first = out.lines().findFirst().orElse(tool).strip();
      int copyright = first.indexOf(" Copyright");
      return copyright > 0 ? first.substring(0, copyright) : first;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private static Target target(
      String kind, String name, String url, String body, InferenceBench.Daemon daemon) {
    ProcessHandle handle = daemon.process().toHandle();
    return new Target() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String kind() {
        return kind;
      }

      @Override
      public String url() {
        return url;
      }

      @Override
      public String body() {
        return body;
      }

      @Override
      public ProcessHandle process() {
        return handle;
      }
    };
  }

  /** modelcache's OIP gRPC endpoint, loaded by {@link GrpcLoad} with one serialised request. */
  record GrpcTarget(String name, String url, Path request, ProcessHandle process)
      implements Target {
    static GrpcTarget of(String model, InferenceBench.Daemon daemon, int workers, Path request) {
      return new GrpcTarget(
          "modelcache gRPC `ModelInfer` (" + model + "), " + workers + " workers",
          "127.0.0.1:" + daemon.grpcPort(),
          request,
          daemon.process().toHandle());
    }

    @Override
    public String kind() {
      return "grpc";
    }

    @Override
    public String body() {
      return null;
    }
  }

  /** A Python peer ({@code bench/peers/serve.sh}) on a free port, ready when returned. */
  record Peer(String name, String url, String body, Process uvicorn, Path log) implements Target {
    static Peer start(Path work, String app, Path modelDir, String model, int workers, String body)
        throws Exception {
      int port;
      try (ServerSocket socket = new ServerSocket(0)) {
        port = socket.getLocalPort();
      }
      Path log = work.resolve(app + ".log");
      ProcessBuilder builder =
          new ProcessBuilder(
                  "bash",
                  "bench/peers/serve.sh",
                  app,
                  modelDir.toString(),
                  Integer.toString(port),
                  Integer.toString(workers))
              .redirectErrorStream(true)
              .redirectOutput(log.toFile());
      builder.environment().put("PEER_MODEL_NAME", model);
      Process process = builder.start();
      String engine = app.startsWith("iris") ? "torch" : "onnxruntime + tokenizers";
      Peer peer =
          new Peer(
              "FastAPI + uvicorn[standard], " + workers + " workers, " + engine + ", 1 thread each",
              "http://127.0.0.1:" + port + "/inference/" + model,
              body,
              process,
              log);
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      while (true) {
        if (!process.isAlive()) {
          throw new IllegalStateException("the " + app + " peer exited: see " + log);
        }
        if (answers(peer.url(), body)) {
          return peer;
        }
        if (System.nanoTime() > deadline) {
          peer.close();
          throw new IllegalStateException("the " + app + " peer not ready in 2 minutes: " + log);
        }
        Thread.sleep(200); // polling a child process for readiness, not synchronising threads
      }
    }

    /** True when a POST of {@code body} answers 200 (every worker has loaded by then or soon). */
    private static boolean answers(String url, String body) {
      try {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setConnectTimeout(1000);
        c.setReadTimeout(5000);
        c.setRequestProperty("Content-Type", "application/json");
        c.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
        int code = c.getResponseCode();
        c.getInputStream().readAllBytes();
        c.disconnect();
        return code == 200;
      } catch (IOException e) {
        return false;
      }
    }

    @Override
    public String kind() {
      return "fastapi";
    }

    @Override
    public ProcessHandle process() {
      return uvicorn.toHandle();
    }

    @Override
    public void close() {
      List<ProcessHandle> children;
      try (Stream<ProcessHandle> descendants = uvicorn.toHandle().descendants()) {
        children = descendants.toList();
      }
      uvicorn.destroy(); // SIGTERM: uvicorn's master stops its workers
      try {
        if (!uvicorn.waitFor(30, TimeUnit.SECONDS)) {
          uvicorn.destroyForcibly().waitFor();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        uvicorn.destroyForcibly();
      }
      children.forEach(ProcessHandle::destroyForcibly); // none left, unless the master was killed
    }
  }
}
