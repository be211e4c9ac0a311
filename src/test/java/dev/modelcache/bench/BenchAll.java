package dev.modelcache.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Every benchmark in one run, printed as one markdown table with the machine's description (the
 * text of {@code docs/performance.md}); also written to {@code target/bench/table.md}. Run with
 * {@code bench/run.sh} (no argument).
 */
public final class BenchAll {
  private BenchAll() {}

  public static void main(String[] args) throws Exception {
    BenchTable table = new BenchTable();
    List<BenchTable.Bench> benches =
        List.of(
            FetchBench::measure,
            S3Bench::measure,
            VerifyBench::measure,
            InferenceBench::measure,
            LoadBench::overload,
            SwitchBench::measure);
    for (BenchTable.Bench bench : benches) {
      bench.measure(table);
    }
    String text = machine() + "\n" + table.markdown();
    Path out = Path.of("target/bench/table.md");
    Files.createDirectories(out.getParent());
    Files.writeString(out, text, StandardCharsets.UTF_8);
    System.out.println();
    System.out.print(text);
  }

  /** The machine: CPU model and count, memory, disk, OS, JVM. */
  static String machine() throws IOException {
    String cpu = "unknown CPU";
    for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
      if (line.startsWith("model name")) {
        cpu = line.substring(line.indexOf(':') + 1).strip();
        break;
      }
    }
    long memKb = 0;
    for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.UTF_8)) {
      if (line.startsWith("MemTotal:")) {
        memKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return String.format(
        Locale.ROOT,
        "Machine: %d cores (%s), %.0f GiB memory, %s %s, Java %s (%s)%n",
        Runtime.getRuntime().availableProcessors(),
        cpu,
        memKb / 1048576.0,
        System.getProperty("os.name"),
        System.getProperty("os.version"),
        System.getProperty("java.version"),
        System.getProperty("java.vm.name"));
  }
}
