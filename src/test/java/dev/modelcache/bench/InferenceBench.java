package dev.modelcache.bench;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
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
 */
public final class InferenceBench {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final MediaType JSON_TYPE = MediaType.get("application/json");
  private static final int CONCURRENCY = 32;

  private InferenceBench() {}

  public static void main(String[] args) throws Exception {
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
    Stats httpThroughput;
    Stats batched;
    long rssLoaded;
    long rssAfter;
    try (Daemon plain = Daemon.start(work, "plain", modelDir, workers, 1, 0)) {
      rssLoaded = plain.rssKib();
      httpLatency = load(plain.url(model), body, 1, phase, maxRequests);
      httpThroughput = load(plain.url(model), body, CONCURRENCY, phase, maxRequests);
      rssAfter = plain.rssKib();
    }
    try (Daemon batching = Daemon.start(work, "batched", modelDir, workers, 16, 5)) {
      batched = load(batching.url(model), body, CONCURRENCY, phase, maxRequests);
    }

    System.out.printf(
        Locale.ROOT,
        "%n## POST /inference on %s (%d workers; %s; %d cores)%n%n",
        model,
        workers,
        "input " + Arrays.toString(shape),
        Runtime.getRuntime().availableProcessors());
    System.out.println("| measure | modelcache over HTTP | reference | result | target |");
    System.out.println("|---|---|---|---|---|");
    System.out.printf(
        Locale.ROOT,
        "| p50 latency, concurrency 1 | %.3f ms (p99 %.3f ms, %d requests) |"
            + " %.3f ms in-process `Predictor.predict` | +%.3f ms | within 0.5 ms |%n",
        httpLatency.p50(),
        httpLatency.p99(),
        httpLatency.count(),
        inProcessLatency.p50(),
        httpLatency.p50() - inProcessLatency.p50());
    System.out.printf(
        Locale.ROOT,
        "| throughput, concurrency %d | %.0f req/s (p99 %.2f ms) | %.0f predict/s in-process, %d"
            + " threads with a predictor each | %.0f%% | at least 70%% |%n",
        CONCURRENCY,
        httpThroughput.perSecond(),
        httpThroughput.p99(),
        inProcessThroughput,
        workers,
        100 * httpThroughput.perSecond() / inProcessThroughput);
    System.out.printf(
        Locale.ROOT,
        "| batching, concurrency %d: `max_size: 16, max_delay_ms: 5` | %.0f req/s (p50 %.2f ms,"
            + " p99 %.2f ms) | %.0f req/s with `max_size: 1` (p50 %.2f ms, p99 %.2f ms) | %.2fx |"
            + " 2x on all-MiniLM-L6-v2 |%n",
        CONCURRENCY,
        batched.perSecond(),
        batched.p50(),
        batched.p99(),
        httpThroughput.perSecond(),
        httpThroughput.p50(),
        httpThroughput.p99(),
        batched.perSecond() / httpThroughput.perSecond());
    System.out.printf(
        Locale.ROOT,
        "| resident memory (RSS) of the daemon, model loaded | %d MiB (%d MiB after the runs) | |"
            + " | under 400 MB |%n",
        rssLoaded / 1024,
        rssAfter / 1024);
    System.out.printf(
        Locale.ROOT,
        "%nErrors (non-200 answers): %d at concurrency 1, %d at %d, %d batched. Daemon JVM: %s.%n",
        httpLatency.errors(),
        httpThroughput.errors(),
        CONCURRENCY,
        batched.errors(),
        String.join(" ", Daemon.JVM_FLAGS));
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
  private record Daemon(Process process, int port, Path log) implements AutoCloseable {
    static final List<String> JVM_FLAGS = List.of("-Xmx256m", "-Dai.djl.offline=true");

    static Daemon start(
        Path work, String name, Path modelDir, int workers, int maxSize, int maxDelayMs)
        throws Exception {
      int port;
      try (ServerSocket socket = new ServerSocket(0)) {
        port = socket.getLocalPort();
      }
      Path config = work.resolve(name + ".yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + work.resolve("cache-" + name)
              + "\nserver:\n  host: 127.0.0.1\n  port: "
              + port
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
              + "}\n");
      List<String> command = new ArrayList<>(List.of("java"));
      command.addAll(JVM_FLAGS);
      command.addAll(List.of("-jar", "target/modelcache.jar", "serve", "-c", config.toString()));
      Path log = work.resolve(name + ".log");
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      Daemon daemon = new Daemon(process, port, log);
      OkHttpClient http = new OkHttpClient();
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      while (true) {
        if (!process.isAlive()) {
          throw new IllegalStateException("modelcache exited: see " + log);
        }
        try (Response response =
            http.newCall(
                    new Request.Builder().url("http://127.0.0.1:" + port + "/health/ready").build())
                .execute()) {
          if (response.code() == 200) {
            return daemon;
          }
        } catch (IOException e) {
          // not listening yet
        }
        if (System.nanoTime() > deadline) {
          daemon.close();
          throw new IllegalStateException("modelcache not ready in 2 minutes: see " + log);
        }
        Thread.sleep(100); // polling a child process for readiness, not synchronising threads
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
