package dev.modelcache.bench;

import dev.modelcache.source.hub.FakeHub;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Cold fetch of a synthetic repository (one big LFS file and twenty smaller ones, 2 GiB by default)
 * from the fake Hub on loopback: {@code modelcache fetch} in a child JVM capped at {@code
 * -Xmx256m}, against {@code curl} and {@code openssl dgst -sha256} on the same bytes from the same
 * server. Prints a markdown table. Run with {@code bench/run.sh}.
 */
public final class FetchBench {
  private FetchBench() {}

  public static void main(String[] args) throws Exception {
    BenchTable.printAlone(FetchBench::measure);
  }

  /** Runs the cold fetch and its references; adds their rows to {@code table}. */
  public static void measure(BenchTable table) throws Exception {
    long bigMib = bigMib();
    long smallMib = smallMib(bigMib);
    Path work = Path.of("target/bench");
    Path data = work.resolve("data");
    Files.createDirectories(data);
    List<Path> files = new ArrayList<>();
    files.add(ensureRandomFile(data.resolve("model.safetensors"), bigMib << 20, 1));
    for (int i = 0; i < 20; i++) {
      files.add(ensureRandomFile(data.resolve("shard-" + i + ".bin"), smallMib << 20, 100 + i));
    }
    long total = 0;
    for (Path file : files) {
      total += Files.size(file);
    }
    try (FakeHub hub = FakeHub.start()) {
      FakeHub.Repo repo = hub.repo("bench/synthetic");
      for (Path file : files) {
        repo.file(file.getFileName().toString(), file, true);
      }
      repo.file("config.json", "{}\n".getBytes(StandardCharsets.UTF_8), false);
      String commit = repo.commit("main");

      // modelcache: a cold cache each time, a child JVM with a 256 MB heap
      Path cache = work.resolve("cache");
      deleteTree(cache);
      Path config = work.resolve("bench.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + cache.toAbsolutePath()
              + "\nsources:\n  hf:\n    endpoint: "
              + hub.endpoint()
              + "\nmodels:\n  - name: synthetic\n    source: hf://bench/synthetic\n");
      long start = System.nanoTime();
      Process fetch =
          new ProcessBuilder(
                  "java",
                  "-Xmx256m",
                  "-Dai.djl.offline=true",
                  "-jar",
                  "target/modelcache.jar",
                  "fetch",
                  "-c",
                  config.toString())
              .redirectErrorStream(true)
              .redirectOutput(work.resolve("fetch.log").toFile())
              .start();
      if (!fetch.waitFor(30, TimeUnit.MINUTES) || fetch.exitValue() != 0) {
        throw new IllegalStateException(
            "modelcache fetch failed: see " + work.resolve("fetch.log"));
      }
      double ours = seconds(start);

      // reference: curl each file (following the Hub's redirects), then openssl dgst -sha256 on it
      Path curlDir = work.resolve("curl");
      deleteTree(curlDir);
      Files.createDirectories(curlDir);
      start = System.nanoTime();
      for (Path file : files) {
        String name = file.getFileName().toString();
        Path out = curlDir.resolve(name);
        run(
            "curl",
            "-sSfL",
            "-o",
            out.toString(),
            hub.endpoint() + "/bench/synthetic/resolve/" + commit + "/" + name);
        run("openssl", "dgst", "-sha256", out.toString());
      }
      double reference = seconds(start);
      // modelcache fsyncs every file before it installs it; the same durability for the reference
      List<String> sync = new ArrayList<>(List.of("sync"));
      for (Path file : files) {
        sync.add(curlDir.resolve(file.getFileName()).toString());
      }
      run(sync.toArray(String[]::new));
      double durable = seconds(start);

      double mb = total / 1e6;
      table.note(
          "fetch (Hub): cold fetch of %d files, %.0f MiB (largest %d MiB) from the fake Hub on"
              + " loopback by `java -Xmx256m -jar target/modelcache.jar fetch` (verified, fsynced);"
              + " reference: `curl` each file then `openssl dgst -sha256` it, one after the other",
          files.size() + 1, total / 1048576.0, bigMib);
      table.add(
          "fetch (Hub)",
          "cold fetch throughput",
          BenchTable.fmt("%.0f MB/s (%.1f s)", mb / ours, ours),
          BenchTable.fmt("curl + openssl: %.0f MB/s (%.1f s)", mb / reference, reference),
          ">= 1.0x curl + openssl",
          reference / ours >= 1.0);
      table.add(
          "fetch (Hub)",
          "against the same durability",
          BenchTable.fmt("%.2fx", durable / ours),
          BenchTable.fmt("curl + openssl + sync: %.0f MB/s (%.1f s)", mb / durable, durable),
          "",
          null);
      table.add(
          "fetch (Hub)",
          "heap of the fetching JVM",
          "completed under -Xmx256m",
          "",
          "< 256 MB",
          true);
    }
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static void run(String... command) throws IOException, InterruptedException {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    if (!process.waitFor(10, TimeUnit.MINUTES) || process.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed");
    }
  }

  private static Path ensureRandomFile(Path file, long size, long seed) throws IOException {
    if (Files.exists(file) && Files.size(file) == size) {
      return file;
    }
    Random random = new Random(seed);
    byte[] chunk = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (long written = 0; written < size; written += chunk.length) {
        random.nextBytes(chunk);
        out.write(chunk, 0, (int) Math.min(chunk.length, size - written));
      }
    }
    return file;
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    }
  }

  /** The big file of the synthetic repo in MiB: 1536, or {@code BENCH_BIG_MIB} for a quick look. */
  static long bigMib() {
    return Long.parseLong(System.getenv().getOrDefault("BENCH_BIG_MIB", "1536"));
  }

  /**
   * Each of the twenty small files in MiB: the rest of 2 GiB, or a sixtieth of a smaller big one.
   */
  static long smallMib(long bigMib) {
    return bigMib < 1536 ? Math.max(1, bigMib / 60) : Math.max(1, (2048 - bigMib) / 20);
  }
}
