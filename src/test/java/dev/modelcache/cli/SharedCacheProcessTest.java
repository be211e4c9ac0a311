package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.store.CacheStore;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes on one cache volume: a fetch killed with SIGKILL at random points, and several
 * daemons started together. Each child is a JVM running {@link Main} on this test's class path.
 */
class SharedCacheProcessTest {
  @TempDir Path tmp;
  private FakeHub hub;
  private final List<Process> children = new ArrayList<>();

  @BeforeEach
  void startHub() throws IOException {
    hub = FakeHub.start();
  }

  @AfterEach
  void stop() {
    children.forEach(Process::destroyForcibly);
    hub.close();
  }

  private Process child(String... args) throws IOException {
    List<String> command =
        new ArrayList<>(
            List.of(
                ProcessHandle.current().info().command().orElse("java"),
                "-Xmx256m",
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName()));
    command.addAll(List.of(args));
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

  private Path config(String models, int port) throws IOException {
    Path file = tmp.resolve("modelcache-" + port + ".yaml");
    Files.writeString(
        file,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nserver:\n  host: 127.0.0.1\n  port: "
            + port
            + "\nmodels:\n"
            + models);
    return file;
  }

  @Test
  void aFetchKilledAtTwentyRandomPointsResumesAndEndsWhole() throws Exception {
    FakeHub.Repo repo = hub.repo("org/big");
    long total = 0;
    for (int i = 0; i < 5; i++) {
      byte[] bytes = random(4 << 20, i);
      repo.file("weights-" + i + ".bin", bytes, true);
      total += bytes.length;
    }
    byte[] config = "{\"note\": \"plain git file\"}\n".getBytes(StandardCharsets.UTF_8);
    repo.file("config.json", config, false);
    total += config.length;
    repo.commit("main");
    // about 8 s of transfer in all at 4 connections: every kill lands while bytes are moving
    hub.throttle(640_000);
    Path file = config("  - name: big\n    source: hf://org/big\n", 0);
    Random random = new Random(42);
    int killed = 0;
    for (int i = 0; i < 20; i++) {
      Process fetch = child("fetch", "-c", file.toString());
      long killAt = 600 + random.nextInt(600);
      if (fetch.waitFor(killAt, TimeUnit.MILLISECONDS)) {
        break; // it finished before this kill point
      }
      fetch.destroyForcibly(); // SIGKILL
      assertThat(fetch.waitFor(10, TimeUnit.SECONDS)).isTrue();
      killed++;
      assertEveryBlobIsWhole(tmp.resolve("cache/hub/models--org--big/blobs"));
    }
    hub.throttle(0);
    Process last = child("fetch", "-c", file.toString());
    assertThat(last.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(last.exitValue())
        .as(Files.readString(tmp.resolve("child-" + (children.size() - 1) + ".log")))
        .isZero();
    assertThat(killed).as("kills that landed during the fetch").isGreaterThanOrEqualTo(15);
    assertEveryBlobIsWhole(tmp.resolve("cache/hub/models--org--big/blobs"));
    StringWriter out = new StringWriter();
    assertThat(
            Main.run(new PrintWriter(out), new PrintWriter(out), "verify", "-c", file.toString()))
        .as(out.toString())
        .isZero();
    System.out.printf(
        "crash loop: %d SIGKILLs, then a clean run; %d bytes sent for a %d-byte model (%.2fx)%n",
        killed, hub.bodyBytesSent(), total, hub.bodyBytesSent() / (double) total);
    assertThat(hub.bodyBytesSent())
        .as("bytes sent for a %d-byte model", total)
        .isLessThan((long) (total * 1.5));
  }

  @Test
  void fourDaemonsStartedTogetherDownloadEachBlobOnceAndAllGetReady() throws Exception {
    FakeHub.Repo repo =
        hub.repo("demo/iris")
            .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
            .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false);
    for (int i = 0; i < 3; i++) {
      repo.file("extra-" + i + ".bin", random(2 << 20, 100 + i), true);
    }
    repo.commit("main");
    hub.throttle(2_000_000); // long enough for the four to overlap
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      ports.add(freePort());
    }
    for (int port : ports) {
      child("serve", "-c", config("  - name: iris\n    source: hf://demo/iris\n", port).toString());
    }
    OkHttpClient http = new OkHttpClient.Builder().callTimeout(Duration.ofSeconds(5)).build();
    for (int i = 0; i < ports.size(); i++) {
      int port = ports.get(i);
      Path log = tmp.resolve("child-" + i + ".log");
      Poll.until(
          Duration.ofSeconds(120),
          Duration.ofMillis(100),
          () -> ready(http, port),
          ready -> ready,
          notReady ->
              "daemon on port "
                  + port
                  + " not ready within 120 s; its log:\n"
                  + Files.readString(log));
    }
    Map<String, Long> gets =
        hub.requests().stream()
            .filter(
                r ->
                    r.method().equals("GET")
                        && (r.host().equals("cdn") || r.path().contains("resolve-cache")))
            .collect(
                Collectors.groupingBy(
                    r -> r.path().replaceAll("\\?.*", ""), Collectors.counting()));
    System.out.printf("four daemons: GET requests per file at the fake Hub: %s%n", gets);
    assertThat(gets)
        .hasSize(5)
        .allSatisfy((path, count) -> assertThat(count).as(path).isEqualTo(1));
  }

  private static boolean ready(OkHttpClient http, int port) {
    try (Response response =
        http.newCall(
                new Request.Builder().url("http://127.0.0.1:" + port + "/health/ready").build())
            .execute()) {
      return response.code() == 200;
    } catch (IOException notYet) {
      return false;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** Every file under a final blob name holds exactly the bytes its name promises. */
  private static void assertEveryBlobIsWhole(Path blobs) throws Exception {
    if (!Files.isDirectory(blobs)) {
      return;
    }
    for (File blob : blobs.toFile().listFiles()) {
      String name = blob.getName();
      byte[] bytes = Files.readAllBytes(blob.toPath());
      String digest = name.length() == 64 ? CacheStore.sha256Of(blob.toPath()) : gitSha1(bytes);
      assertThat(digest).as(name).isEqualTo(name);
    }
  }

  private static String gitSha1(byte[] bytes) throws Exception {
    MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
    sha1.update(("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
    return HexFormat.of().formatHex(sha1.digest(bytes));
  }

  private static byte[] random(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
