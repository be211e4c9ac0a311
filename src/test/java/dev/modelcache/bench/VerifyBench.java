package dev.modelcache.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.Poll;
import dev.modelcache.store.CacheStore;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Warm start and full verification of a cache of ten models, about 5 GiB: each model is the
 * committed iris TorchScript ({@code models/iris/model.pt} and {@code config.json}) plus a 500 MiB
 * random {@code weights.bin} the engine does not load, every file pinned. The cache is built once
 * with {@code modelcache fetch} from {@code file:} sources under {@code target/bench/verify} and
 * reused by later runs. Measures, each beside its target or reference:
 *
 * <ul>
 *   <li>warm start: {@code java -jar target/modelcache.jar serve} with {@code verify: fast}, from
 *       process start to {@code /health/ready} 200; the verification phase (from its log line); the
 *       sum of the models' DJL load times ({@code load_seconds} of {@code /models});
 *   <li>{@code modelcache verify --full} throughput beside {@code openssl dgst -sha256} over the
 *       same blob files in the same run, several files at once ({@code xargs -P $(nproc)}).
 * </ul>
 *
 * Run with {@code bench/run.sh verify}; {@code BENCH_MODELS} and {@code BENCH_WEIGHTS_MIB} shrink
 * it for a quick look, {@code BENCH_RUNS} sets how many times each measure is taken (the median is
 * reported).
 */
public final class VerifyBench {
  private static final Pattern PHASE =
      Pattern.compile("verification \\(fast\\) of (\\d+) models took (\\d+) ms");
  private static final Pattern FULL_LINE =
      Pattern.compile("full verification of (\\d+) files: .* in ([0-9.]+) s \\(([0-9]+) MB/s");

  private VerifyBench() {}

  public static void main(String[] args) throws Exception {
    BenchTable.printAlone(VerifyBench::measure);
  }

  /** Runs the warm starts and full verifications; adds their rows to {@code table}. */
  public static void measure(BenchTable table) throws Exception {
    int models = Integer.parseInt(System.getenv().getOrDefault("BENCH_MODELS", "10"));
    long weightsMib = Long.parseLong(System.getenv().getOrDefault("BENCH_WEIGHTS_MIB", "500"));
    int runs = Integer.parseInt(System.getenv().getOrDefault("BENCH_RUNS", "3"));
    int cores = Runtime.getRuntime().availableProcessors();
    Path work = Path.of("target/bench/verify").toAbsolutePath();
    Path sources = work.resolve("sources");
    Path cache = work.resolve("cache-" + models + "x" + weightsMib);
    Path iris = Path.of("models/iris").toAbsolutePath();

    // sources, generated once: the pins of weights.bin are kept beside it
    StringBuilder yaml = new StringBuilder();
    for (int i = 0; i < models; i++) {
      Path dir = sources.resolve("m" + i);
      Files.createDirectories(dir);
      for (String file : List.of("model.pt", "config.json")) {
        Files.copy(iris.resolve(file), dir.resolve(file), StandardCopyOption.REPLACE_EXISTING);
      }
      String weights =
          ensureRandomFile(
              dir.resolve("weights.bin"),
              sources.resolve("m" + i + "-weights.sha256"),
              weightsMib << 20,
              1000 + i);
      yaml.append("  - name: m")
          .append(i)
          .append("\n    source: file:")
          .append(dir)
          .append("\n    sha256:\n      model.pt: ")
          .append(CacheStore.sha256Of(dir.resolve("model.pt")))
          .append("\n      config.json: ")
          .append(CacheStore.sha256Of(dir.resolve("config.json")))
          .append("\n      weights.bin: ")
          .append(weights)
          .append('\n');
    }
    int port = freePort();
    Path config = work.resolve("bench.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + cache
            + "\n  verify: fast\nserver:\n  host: 127.0.0.1\n  port: "
            + port
            + "\nmodels:\n"
            + yaml);

    // the cache, built once and reused
    if (modelcache(work.resolve("check.log"), "verify", "-c", config.toString()) != 0) {
      long start = System.nanoTime();
      if (modelcache(work.resolve("fetch.log"), "fetch", "-c", config.toString()) != 0) {
        throw new IllegalStateException(
            "modelcache fetch failed: see " + work.resolve("fetch.log"));
      }
      System.out.printf(Locale.ROOT, "built the cache %s in %.1f s%n", cache, seconds(start));
    }
    List<Path> blobs = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(cache.resolve("local"))) {
      walk.filter(p -> p.getParent().getFileName().toString().equals("blobs"))
          .filter(Files::isRegularFile)
          .sorted()
          .forEach(blobs::add);
    }
    long totalBytes = 0;
    for (Path blob : blobs) {
      totalBytes += Files.size(blob);
    }

    // (a) warm start, fast verification
    List<Start> starts = new ArrayList<>();
    for (int run = 0; run < runs; run++) {
      starts.add(warmStart(config, port, work.resolve("serve-" + run + ".log")));
    }
    starts.sort(Comparator.comparingDouble(Start::readySeconds));
    Start start = starts.get(starts.size() / 2);

    // (b) verify --full beside openssl, alternating, page cache warmed first by one openssl pass
    opensslAll(blobs, cores);
    List<Double> ours = new ArrayList<>();
    List<Double> ourPhase = new ArrayList<>();
    List<Double> theirs = new ArrayList<>();
    for (int run = 0; run < runs; run++) {
      Path log = work.resolve("verify-full-" + run + ".log");
      long t0 = System.nanoTime();
      if (modelcache(log, "verify", "--full", "-c", config.toString()) != 0) {
        throw new IllegalStateException("modelcache verify --full failed: see " + log);
      }
      ours.add(seconds(t0));
      Matcher full = FULL_LINE.matcher(Files.readString(log, StandardCharsets.UTF_8));
      if (!full.find()) {
        throw new IllegalStateException("no summary line in " + log);
      }
      ourPhase.add(Double.parseDouble(full.group(2)));
      theirs.add(opensslAll(blobs, cores));
    }
    double oursWall = median(ours);
    double oursPhase = median(ourPhase);
    double opensslWall = median(theirs);
    double mb = totalBytes / 1e6;

    table.note(
        "warm start, verify: a cache of %d models, %d files, %.2f GiB (%d MiB weights.bin each),"
            + " median of %d runs; reference for `verify --full`: `openssl dgst -sha256` over the"
            + " same files, `xargs -P %d`, alternating with it",
        models, blobs.size(), totalBytes / (double) (1L << 30), weightsMib, runs, cores);
    table.add(
        "warm start",
        "verification phase at start (`verify: fast`)",
        start.verifyMillis() + " ms",
        "",
        "< 1 s",
        start.verifyMillis() < 1000);
    double overhead = start.readySeconds() - start.loadSeconds();
    table.add(
        "warm start",
        "process start to `/health/ready` 200, minus the models' own load time",
        BenchTable.fmt("%.2f s (ready after %.2f s)", overhead, start.readySeconds()),
        BenchTable.fmt("DJL load times, summed: %.2f s", start.loadSeconds()),
        "< 2 s",
        overhead < 2);
    table.add(
        "verify",
        "`verify --full` hashing throughput (its summary line)",
        BenchTable.fmt("%.0f MB/s (%.2f s)", mb / oursPhase, oursPhase),
        BenchTable.fmt("openssl: %.0f MB/s (%.2f s)", mb / opensslWall, opensslWall),
        ">= 90% of openssl",
        opensslWall / oursPhase >= 0.9);
    table.add(
        "verify",
        "`verify --full`, whole process (JVM start, config)",
        BenchTable.fmt(
            "%.0f MB/s (%.2f s), %.0f%%", mb / oursWall, oursWall, 100 * opensslWall / oursWall),
        BenchTable.fmt("openssl: %.0f MB/s", mb / opensslWall),
        "",
        null);
  }

  private record Start(double readySeconds, long verifyMillis, double loadSeconds) {}

  private static Start warmStart(Path config, int port, Path log) throws Exception {
    OkHttpClient http = new OkHttpClient.Builder().retryOnConnectionFailure(false).build();
    String base = "http://127.0.0.1:" + port;
    long start = System.nanoTime();
    Process serve =
        new ProcessBuilder(
                "java", "-jar", "target/modelcache.jar", "serve", "-c", config.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      // asked every 10 ms: the time to readiness is what is measured
      Poll.until(
          Duration.ofSeconds(120),
          Duration.ofMillis(10),
          "serve to be ready: see " + log,
          () -> {
            if (!serve.isAlive()) {
              throw new IllegalStateException("serve exited " + serve.exitValue() + ": see " + log);
            }
            try (Response response =
                http.newCall(new Request.Builder().url(base + "/health/ready").build()).execute()) {
              return response.code() == 200;
            } catch (IOException notListeningYet) {
              return false;
            }
          });
      double ready = seconds(start);
      double loads = 0;
      try (Response response =
          http.newCall(new Request.Builder().url(base + "/models").build()).execute()) {
        JsonNode body = new ObjectMapper().readTree(response.body().string());
        for (JsonNode model : body.get("models")) {
          loads += model.get("load_seconds").asDouble();
        }
      }
      Matcher phase = PHASE.matcher(Files.readString(log, StandardCharsets.UTF_8));
      if (!phase.find()) {
        throw new IllegalStateException("no verification line in " + log);
      }
      return new Start(ready, Long.parseLong(phase.group(2)), loads);
    } finally {
      serve.destroy();
      if (!serve.waitFor(30, TimeUnit.SECONDS)) {
        serve.destroyForcibly();
      }
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
  }

  /** openssl dgst -sha256 over every blob, {@code cores} files at once; returns seconds. */
  private static double opensslAll(List<Path> blobs, int cores) throws Exception {
    StringBuilder list = new StringBuilder();
    for (Path blob : blobs) {
      list.append(blob).append('\0');
    }
    long start = System.nanoTime();
    Process xargs =
        new ProcessBuilder(
                "xargs", "-0", "-P", String.valueOf(cores), "-n", "1", "openssl", "dgst", "-sha256")
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    try (OutputStream in = xargs.getOutputStream()) {
      in.write(list.toString().getBytes(StandardCharsets.UTF_8));
    }
    if (!xargs.waitFor(10, TimeUnit.MINUTES) || xargs.exitValue() != 0) {
      throw new IllegalStateException("xargs openssl dgst failed");
    }
    return seconds(start);
  }

  private static int modelcache(Path log, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("java", "-jar", "target/modelcache.jar"));
    command.addAll(List.of(args));
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!process.waitFor(30, TimeUnit.MINUTES)) {
      process.destroyForcibly();
      throw new IllegalStateException(String.join(" ", command) + " did not end in 30 minutes");
    }
    return process.exitValue();
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return socket.getLocalPort();
    }
  }

  private static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(null);
    return sorted.get(sorted.size() / 2);
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  /**
   * Writes {@code size} random bytes once; returns their SHA-256, kept in {@code digest} (outside
   * the model's folder, which is the source).
   */
  private static String ensureRandomFile(Path file, Path digest, long size, long seed)
      throws IOException {
    if (Files.exists(file) && Files.size(file) == size && Files.exists(digest)) {
      return Files.readString(digest, StandardCharsets.UTF_8).strip();
    }
    Random random = new Random(seed);
    byte[] chunk = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (long written = 0; written < size; written += chunk.length) {
        random.nextBytes(chunk);
        out.write(chunk, 0, (int) Math.min(chunk.length, size - written));
      }
    }
    String sha256 = CacheStore.sha256Of(file);
    Files.writeString(digest, sha256 + "\n", StandardCharsets.UTF_8);
    return sha256;
  }
}
