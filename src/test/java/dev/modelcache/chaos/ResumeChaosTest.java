package dev.modelcache.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.Poll;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.store.CacheStore;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code modelcache fetch} in child JVMs, each killed with SIGKILL at a random moment of the
 * transfer, then a last run to the end: a model with one file large enough to come in parallel
 * ranges and several small ones. Every kill must be survived (the next run takes up what is on
 * disk; nothing wrong is ever installed) and the fake Hub must have sent, over all runs, at most
 * 1.1x the model's size: a kill costs at most a few hundred KiB per range.
 *
 * <p>Bounded run: 3 kills on a 72 MiB file. Long run ({@code -Dmodelcache.chaos=long}): 20 kills on
 * a 300 MB file.
 */
@Tag(Chaos.TAG)
class ResumeChaosTest {
  @TempDir Path tmp;
  private FakeHub hub;
  private final List<Process> children = new ArrayList<>();

  @AfterEach
  void stop() {
    children.forEach(Process::destroyForcibly);
    if (hub != null) {
      hub.close();
    }
  }

  @Test
  void everyKillIsSurvivedAndCostsAtMostAFewHundredKibPerRange() throws Exception {
    int kills = Chaos.rounds(3, 20);
    long bigSize = Chaos.longRun() ? 300_000_000L : 72L << 20; // ranged from 64 MiB
    hub = FakeHub.start();
    FakeHub.Repo repo = hub.repo("org/big");
    Map<String, String> expected = new TreeMap<>();
    Path big = tmp.resolve("big.bin");
    writeRandom(big, bigSize, 1);
    repo.file("model.safetensors", big, true);
    expected.put("model.safetensors", CacheStore.sha256Of(big));
    long total = bigSize;
    for (int i = 0; i < 4; i++) {
      Path small = tmp.resolve("small-" + i + ".bin");
      writeRandom(small, (1 << 20) + i, 10 + i);
      repo.file("extra/small-" + i + ".bin", small, true);
      expected.put("extra/small-" + i + ".bin", CacheStore.sha256Of(small));
      total += Files.size(small);
    }
    repo.commit("main");
    // 2 MB/s per connection (8 MB/s at 4 ranges), a WAN's pace: kills land while bytes move, and
    // the child keeps up even on a loaded machine. At loopback speed a starved child leaves
    // megabytes per connection in socket buffers, sent but never read: a cost of the test rig,
    // not of resuming, that would drown the figure measured here.
    hub.throttle(2_000_000);
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nmodels:\n  - name: big\n    source: hf://org/big\n");

    Random random = new Random(42);
    int killed = 0;
    int finishedEarly = 0;
    for (int i = 0; i < kills; i++) {
      long startedAt = hub.bodyBytesSent();
      // a random moment of the transfer: somewhere in the next 1/(kills+1) of the model, on average
      long killAt = startedAt + (long) (total / (kills + 1.0) * (0.2 + 1.6 * random.nextDouble()));
      Process fetch = child(config);
      int kill = i;
      // the bytes sent, asked every 2 ms: the kill point, or the fetch's early end
      Poll.until(
          Duration.ofSeconds(120),
          Duration.ofMillis(2),
          "kill point " + kill + " (byte " + killAt + " sent) or the fetch's end",
          () -> hub.bodyBytesSent() >= killAt || !fetch.isAlive());
      boolean ended = hub.bodyBytesSent() < killAt;
      if (ended) {
        assertThat(fetch.exitValue()).as(log(children.size() - 1)).isZero();
        finishedEarly++;
        break;
      }
      fetch.destroyForcibly(); // SIGKILL
      assertThat(fetch.waitFor(30, TimeUnit.SECONDS)).isTrue();
      killed++;
      assertEveryBlobIsWhole(tmp.resolve("cache/hub/models--org--big/blobs"));
    }
    hub.throttle(0);
    Process last = child(config);
    assertThat(last.waitFor(300, TimeUnit.SECONDS)).as("the last fetch ends").isTrue();
    assertThat(last.exitValue()).as(log(children.size() - 1)).isZero();
    Path snapshots = tmp.resolve("cache/hub/models--org--big/snapshots");
    try (Stream<Path> commits = Files.list(snapshots)) {
      Path snapshot = commits.findFirst().orElseThrow();
      for (Map.Entry<String, String> file : expected.entrySet()) {
        assertThat(CacheStore.sha256Of(snapshot.resolve(file.getKey())))
            .as(file.getKey())
            .isEqualTo(file.getValue());
      }
    }
    assertThat(tmp.resolve("cache/.modelcache/parts/hub-models--org--big")).isEmptyDirectory();

    long served = hub.bodyBytesSent();
    double ratio = served / (double) total;
    Chaos.report("resume.kills", killed + "/" + killed); // survived / tried: every one asserted
    Chaos.report("resume.model_bytes", total);
    Chaos.report("resume.bytes_served", served);
    Chaos.report("resume.served_over_model", String.format(Locale.ROOT, "%.3fx", ratio));
    Chaos.report(
        "resume.resent_over_model",
        String.format(Locale.ROOT, "%.3f", (served - total) / (double) total));
    Chaos.report(
        "resume.resent_per_kill_kib", killed == 0 ? "n/a" : (served - total) / 1024 / killed);
    assertThat(killed + finishedEarly).isPositive();
    assertThat(killed)
        .as("kills that landed during the transfer")
        .isGreaterThanOrEqualTo(kills / 2);
    assertThat(served)
        .as("bytes served for a %d-byte model over %d kills", total, killed)
        .isLessThanOrEqualTo((long) (total * 1.1));
  }

  private Process child(Path config) throws IOException {
    List<String> command =
        List.of(
            ProcessHandle.current().info().command().orElse("java"),
            "-Xmx256m",
            "-Dai.djl.offline=true",
            "-cp",
            System.getProperty("java.class.path"),
            "dev.modelcache.cli.Main",
            "fetch",
            "-c",
            config.toString());
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("child-" + children.size() + ".log").toFile());
    builder
        .environment()
        .keySet()
        .removeIf(k -> k.startsWith("MODELCACHE_") || k.startsWith("HF_"));
    Process process = builder.start();
    children.add(process);
    return process;
  }

  private String log(int child) throws IOException {
    return Files.readString(tmp.resolve("child-" + child + ".log"));
  }

  private static void writeRandom(Path file, long size, long seed) throws IOException {
    Random random = new Random(seed);
    byte[] buffer = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (long left = size; left > 0; left -= buffer.length) {
        random.nextBytes(buffer);
        out.write(buffer, 0, (int) Math.min(buffer.length, left));
      }
    }
  }

  /** Every file under a final blob name holds exactly the bytes its name promises. */
  private static void assertEveryBlobIsWhole(Path blobs) throws IOException {
    if (!Files.isDirectory(blobs)) {
      return;
    }
    try (Stream<Path> files = Files.list(blobs)) {
      for (Path blob : files.toList()) {
        assertThat(CacheStore.sha256Of(blob))
            .as(blob.getFileName().toString())
            .isEqualTo(blob.getFileName().toString());
      }
    }
  }
}
