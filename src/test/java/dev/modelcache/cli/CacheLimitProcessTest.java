package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.source.hub.FakeHub;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cache.max_bytes} through real processes (each {@code modelcache} command a child JVM on
 * one cache, models from the fake Hub): a cache at its limit evicts the least recently used model
 * that nothing needs, never a configured or pinned one, and a fetch too big even after eviction
 * fails with the numbers, evicting nothing.
 */
class CacheLimitProcessTest {
  private static final Pattern HOLDS = Pattern.compile("the models hold [^(]*\\((\\d+) bytes\\)");

  @TempDir Path tmp;
  private FakeHub hub;
  private final List<Process> children = new ArrayList<>();

  /** One finished child: its exit code and its output (stdout and stderr together). */
  private record Run(int code, String out) {}

  @BeforeEach
  void startHub() throws IOException {
    hub = FakeHub.start();
  }

  @AfterEach
  void stop() {
    children.forEach(Process::destroyForcibly);
    hub.close();
  }

  @Test
  void evictsTheLeastRecentlyUsedUnneededModelAndRefusesWhatCannotFit() throws Exception {
    // a: unconfigured, 3 days; e: unconfigured, 5 hours; c: pinned by modelcache.lock, 1 day;
    // b: configured, 2 hours; d: configured, not fetched yet; z: too big for the limit
    Map<String, Integer> sizes =
        Map.of("a", 300_000, "b", 200_000, "c", 250_000, "d", 150_000, "e", 100_000);
    sizes.forEach((name, size) -> model(name, size));
    model("z", 3_000_000);
    Path cache = tmp.resolve("cache");
    Path hubDir = cache.resolve("hub");

    Path all = config("all", 1_000_000_000L, "a", "b", "c", "e");
    Run fetched = run(Map.of(), "fetch", "-c", all.toString());
    assertThat(fetched.code()).as(fetched.out()).isZero();
    Path pin = config("pin", 0, "c");
    Run locked = run(Map.of(), "lock", "-c", pin.toString());
    assertThat(locked.code()).as(locked.out()).isZero();
    Path runDir = Files.createDirectories(tmp.resolve("run"));
    Files.copy(tmp.resolve("pin/modelcache.lock"), runDir.resolve("modelcache.lock"));

    Instant now = Instant.now();
    age(cache, "a", now.minus(Duration.ofDays(3)));
    age(cache, "b", now.minus(Duration.ofHours(2)));
    age(cache, "c", now.minus(Duration.ofDays(1)));
    age(cache, "e", now.minus(Duration.ofHours(5)));
    Run measured = run(Map.of(), "gc", "-c", all.toString());
    Matcher holds = HOLDS.matcher(measured.out());
    assertThat(holds.find()).as(measured.out()).isTrue();
    long used = Long.parseLong(holds.group(1));
    // over the limit by 50 kB now; d (150 kB) fits once a (300 kB) goes, and only then
    long limit = used - 50_000;

    Path config = config("run", limit, "b", "d");
    Run gc = run(Map.of(), "gc", "-c", config.toString());
    System.out.println("modelcache gc with cache.max_bytes " + limit + ":\n" + gc.out());
    assertThat(gc.code()).as(gc.out()).isZero();
    List<String> plan =
        gc.out().lines().filter(l -> l.startsWith("evict ") || l.startsWith("keep ")).toList();
    assertThat(plan).hasSize(2);
    assertThat(plan.get(0)).startsWith("evict    1").contains("a (hub/models--org--a snapshot");
    assertThat(plan.get(1)).startsWith("keep     2").contains("e (hub/models--org--e snapshot");
    assertThat(gc.out())
        .doesNotContain("models--org--b snapshot", "models--org--c snapshot")
        .contains("run 'modelcache gc --delete' to evict the first 1");

    Run fetchD = run(Map.of(), "fetch", "-c", config.toString());
    System.out.println("modelcache fetch d:\n" + tail(fetchD.out()));
    assertThat(fetchD.code()).as(fetchD.out()).isZero();
    assertThat(fetchD.out()).contains("evicted a (hub/models--org--a snapshot");
    assertThat(hubDir.resolve("models--org--a")).doesNotExist();
    assertThat(files(cache.resolve(".modelcache/used/hub-models--org--a"))).isEmpty();
    for (String kept : List.of("b", "c", "d", "e")) {
      Path repo = hubDir.resolve("models--org--" + kept);
      assertThat(repo.resolve("snapshots")).isNotEmptyDirectory();
      assertThat(repo.resolve("refs/main")).isRegularFile();
    }
    assertNoDanglingLinks(hubDir);
    assertThat(usedBytes(hubDir)).isLessThanOrEqualTo(limit);

    Run offline = run(Map.of("MODELCACHE_OFFLINE", "1"), "fetch", "-c", config.toString());
    assertThat(offline.code()).as(offline.out()).isZero();
    Run verify = run(Map.of("MODELCACHE_OFFLINE", "1"), "verify", "-c", config.toString());
    System.out.println("offline modelcache verify:\n" + tail(verify.out()));
    assertThat(verify.code()).as(verify.out()).isZero();
    assertThat(verify.out()).contains("b");

    // b unconfigured and unused for 2 hours: evictable, yet b and e together leave z short
    age(cache, "b", now.minus(Duration.ofHours(2)));
    Path tooBig = config("big", limit, "d", "z");
    Files.copy(runDir.resolve("modelcache.lock"), tmp.resolve("big/modelcache.lock"));
    List<Path> before = files(hubDir);
    Run refused = run(Map.of(), "fetch", "-c", tooBig.toString());
    System.out.println("modelcache fetch z (too big):\n" + tail(refused.out()));
    assertThat(refused.code()).as(refused.out()).isNotZero();
    assertThat(refused.out())
        .contains("z - cache.max_bytes", "short; nothing was evicted")
        .doesNotContain("evicted ");
    assertThat(files(hubDir)).isEqualTo(before);
  }

  private void model(String name, int size) {
    byte[] weights = new byte[size];
    new Random(name.hashCode()).nextBytes(weights);
    hub.repo("org/" + name)
        .file("weights.bin", weights, true)
        .file(
            "config.json",
            ("{\"model\": \"" + name + "\"}\n").getBytes(StandardCharsets.UTF_8),
            false)
        .commit("main");
  }

  /** {@code tmp/{dir}/modelcache.yaml}: the shared cache, the fake Hub, the models named. */
  private Path config(String dir, long maxBytes, String... models) throws IOException {
    StringBuilder yaml =
        new StringBuilder("cache:\n  dir: ")
            .append(tmp.resolve("cache"))
            .append(maxBytes > 0 ? "\n  max_bytes: " + maxBytes : "")
            .append("\nsources:\n  hf:\n    endpoint: ")
            .append(hub.endpoint())
            .append("\nmodels:\n");
    for (String model : models) {
      yaml.append("  - name: ").append(model).append("\n    source: hf://org/").append(model);
      yaml.append('\n');
    }
    Path file = Files.createDirectories(tmp.resolve(dir)).resolve("modelcache.yaml");
    Files.writeString(file, yaml.toString());
    return file;
  }

  /** Sets the last use of model {@code name}'s snapshots: their markers' mtime. */
  private static void age(Path cache, String name, Instant when) throws IOException {
    Path markers = cache.resolve(".modelcache/used/hub-models--org--" + name);
    List<Path> found = files(markers);
    assertThat(found).as("last-use markers of " + name).isNotEmpty();
    for (Path marker : found) {
      Files.setLastModifiedTime(marker, FileTime.from(when));
    }
  }

  private Run run(Map<String, String> env, String... args) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                ProcessHandle.current().info().command().orElse("java"),
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName()));
    command.addAll(List.of(args));
    Path log = tmp.resolve("child-" + children.size() + ".log");
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder
        .environment()
        .keySet()
        .removeIf(k -> k.startsWith("MODELCACHE_") || k.startsWith("HF_"));
    builder.environment().putAll(env);
    Process process = builder.start();
    children.add(process);
    assertThat(process.waitFor(120, TimeUnit.SECONDS)).as(String.join(" ", args)).isTrue();
    return new Run(process.exitValue(), Files.readString(log));
  }

  private static String tail(String out) {
    List<String> lines = out.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
  }

  private static void assertNoDanglingLinks(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path link : walk.filter(Files::isSymbolicLink).toList()) {
        assertThat(Files.exists(link)).as("target of " + link).isTrue();
      }
    }
  }

  private static long usedBytes(Path hubDir) throws IOException {
    long bytes = 0;
    for (Path file : files(hubDir)) {
      if (file.toString().contains("models--")) {
        bytes += Files.size(file);
      }
    }
    return bytes;
  }

  /** The regular files under {@code dir} (not following links), sorted. */
  private static List<Path> files(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile)
          .filter(p -> !Files.isSymbolicLink(p))
          .sorted()
          .toList();
    }
  }
}
