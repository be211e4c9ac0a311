package dev.modelcache.bench;

import dev.modelcache.source.s3.S3Server;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Cold fetch of a synthetic 2 GiB model folder (one big file and twenty smaller ones) from a local
 * S3 server (S3Proxy on loopback, a filesystem blob store under {@code target/bench/s3}): {@code
 * modelcache fetch} in a child JVM capped at {@code -Xmx256m}, against a single-stream {@code
 * GetObject} of each object to a file followed by {@code openssl dgst -sha256} of it, on the same
 * bytes from the same server in the same run. Prints a markdown table, then deletes its data
 * ({@code BENCH_KEEP=1} keeps it). Run with {@code bench/run.sh s3}.
 */
public final class S3Bench {
  private S3Bench() {}

  public static void main(String[] args) throws Exception {
    BenchTable.printAlone(S3Bench::measure);
  }

  /** The cold fetch from S3Proxy and its references; adds their rows to {@code table}. */
  public static void measure(BenchTable table) throws Exception {
    long bigMib = FetchBench.bigMib();
    long smallMib = FetchBench.smallMib(bigMib);
    Map<String, Long> files = new LinkedHashMap<>();
    files.put("model.safetensors", bigMib << 20);
    for (int i = 0; i < 20; i++) {
      files.put("shards/shard-" + i + ".bin", smallMib << 20);
    }
    // S3Proxy's request log would drown the table
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("org.gaul"))
        .setLevel(ch.qos.logback.classic.Level.WARN);
    Path work = Path.of("target/bench/s3").toAbsolutePath();
    deleteTree(work);
    Files.createDirectories(work.resolve("store"));
    try (S3Server s3 = S3Server.onDisk(work.resolve("store"))) {
      s3.bucket("bench");
      S3Client client = s3.admin();
      long total = 0;
      StringBuilder lock = new StringBuilder("{\"version\":1,\"models\":{\"m\":{\"files\":[");
      int seed = 1;
      long uploadStart = System.nanoTime();
      for (Map.Entry<String, Long> file : files.entrySet()) {
        long size = file.getValue();
        int s = seed++;
        byte[] sha256 = sha256(new RandomStream(s, size));
        client.putObject(
            b ->
                b.bucket("bench")
                    .key("synthetic/" + file.getKey())
                    .contentLength(size)
                    .checksumSHA256(Base64.getEncoder().encodeToString(sha256)),
            RequestBody.fromContentProvider(
                () -> new RandomStream(s, size), size, "application/octet-stream"));
        lock.append(total == 0 ? "" : ",")
            .append("{\"path\":\"")
            .append(file.getKey())
            .append("\",\"size\":")
            .append(size)
            .append(",\"sha256\":\"")
            .append(HexFormat.of().formatHex(sha256))
            .append("\"}");
        total += size;
      }
      client.putObject(
          b -> b.bucket("bench").key("synthetic/modelcache.lock"),
          RequestBody.fromString(lock.append("]}}}").toString()));
      System.err.printf(
          Locale.ROOT, "uploaded %d MiB in %.1f s%n", total >> 20, seconds(uploadStart));

      // modelcache: a cold cache, a child JVM with a 256 MB heap
      Path config = work.resolve("bench.yaml");
      Files.writeString(
          config,
          "cache:\n  dir: "
              + work.resolve("cache")
              + "\nsources:\n  s3:\n    endpoint: "
              + s3.endpoint()
              + "\n    path_style: true\nmodels:\n  - name: synthetic\n    source: s3://bench/synthetic\n"
              + "    require_pins: true\n",
          StandardCharsets.UTF_8);
      long start = System.nanoTime();
      ProcessBuilder fetch =
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
              .redirectOutput(work.resolve("fetch.log").toFile());
      fetch.environment().put("AWS_ACCESS_KEY_ID", S3Server.IDENTITY);
      fetch.environment().put("AWS_SECRET_ACCESS_KEY", S3Server.SECRET);
      Process process = fetch.start();
      if (!process.waitFor(30, TimeUnit.MINUTES) || process.exitValue() != 0) {
        throw new IllegalStateException(
            "modelcache fetch failed: see " + work.resolve("fetch.log"));
      }
      double ours = seconds(start);

      // reference: one GetObject per object, single stream, to a file; then openssl on the file
      Path plain = work.resolve("plain");
      Files.createDirectories(plain);
      List<Path> written = new ArrayList<>();
      start = System.nanoTime();
      for (String key : files.keySet()) {
        Path out = plain.resolve(key.replace('/', '_'));
        client.getObject(
            b -> b.bucket("bench").key("synthetic/" + key), ResponseTransformer.toFile(out));
        run("openssl", "dgst", "-sha256", out.toString());
        written.add(out);
      }
      double reference = seconds(start);
      List<String> sync = new ArrayList<>(List.of("sync"));
      written.forEach(p -> sync.add(p.toString()));
      run(sync.toArray(String[]::new));
      double durable = seconds(start);

      double mb = total / 1e6;
      table.note(
          "fetch (S3): cold fetch of %d objects, %.0f MiB (largest %d MiB) from S3Proxy (filesystem"
              + " store) on loopback by `java -Xmx256m -jar target/modelcache.jar fetch` (verified,"
              + " fsynced); reference: single-stream `GetObject` of each object to a file, then"
              + " `openssl dgst -sha256` of it",
          files.size(), total / 1048576.0, bigMib);
      table.add(
          "fetch (S3)",
          "cold fetch throughput",
          BenchTable.fmt("%.0f MB/s (%.1f s)", mb / ours, ours),
          BenchTable.fmt("GetObject + openssl: %.0f MB/s (%.1f s)", mb / reference, reference),
          ">= 1.0x GetObject + openssl",
          reference / ours >= 1.0);
      table.add(
          "fetch (S3)",
          "against the same durability",
          BenchTable.fmt("%.2fx", durable / ours),
          BenchTable.fmt("GetObject + openssl + sync: %.0f MB/s (%.1f s)", mb / durable, durable),
          "",
          null);
      table.add(
          "fetch (S3)",
          "heap of the fetching JVM",
          "completed under -Xmx256m",
          "",
          "< 256 MB",
          true);
    } finally {
      if (!"1".equals(System.getenv("BENCH_KEEP"))) {
        deleteTree(work);
      }
    }
  }

  /** Deterministic pseudo-random bytes, generated as they are read: nothing is held in memory. */
  private static final class RandomStream extends InputStream {
    private final SplittableRandom random;
    private long left;
    private final byte[] block = new byte[1 << 16];
    private int at = block.length;

    RandomStream(long seed, long size) {
      this.random = new SplittableRandom(seed);
      this.left = size;
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) {
      if (left <= 0) {
        return -1;
      }
      if (at == block.length) {
        for (int i = 0; i < block.length; i += 8) {
          long value = random.nextLong();
          for (int j = 0; j < 8; j++) {
            block[i + j] = (byte) (value >>> (8 * j));
          }
        }
        at = 0;
      }
      int n = (int) Math.min(Math.min(length, block.length - at), left);
      System.arraycopy(block, at, buffer, offset, n);
      at += n;
      left -= n;
      return n;
    }
  }

  private static byte[] sha256(InputStream in) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    byte[] buffer = new byte[1 << 16];
    int n;
    while ((n = in.read(buffer)) >= 0) {
      digest.update(buffer, 0, n);
    }
    return digest.digest();
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
}
