package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.LogCapture;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.s3.S3Server;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line with S3: trust on first use recorded in {@code modelcache.lock}, {@code fetch
 * --frozen} against it, and {@code mirror} from the (fake) Hub to a real S3 server and back into a
 * fresh cache.
 */
class S3CliTest {
  private static final byte[] WEIGHTS = random(200_000, 1);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);

  @TempDir Path tmp;
  private S3Server s3;

  @BeforeEach
  void start() throws Exception {
    s3 = S3Server.start();
    s3.bucket("models");
  }

  @AfterEach
  void stop() {
    s3.close();
  }

  private Path config(String dir, String extraSources, String models) throws Exception {
    Path folder = Files.createDirectories(tmp.resolve(dir));
    Path file = folder.resolve("modelcache.yaml");
    Files.writeString(
        file,
        "cache:\n  dir: "
            + folder.resolve("cache")
            + "\nsources:\n  s3:\n    endpoint: "
            + s3.endpoint()
            + "\n    path_style: true\n"
            + extraSources
            + "models:\n"
            + models);
    return file;
  }

  @Test
  void trustOnFirstUseIsRecordedThenFrozenHoldsToIt() throws Exception {
    s3.put("models", "m/model.bin", WEIGHTS, false);
    s3.put("models", "m/config.json", CONFIG, false);
    Path config = config("a", "", "  - name: m\n    source: s3://models/m\n");

    CliRun first = CliRun.of("fetch", "-c", config.toString());
    assertThat(first.code()).as(first.err()).isZero();
    JsonNode locked =
        new ObjectMapper().readTree(config.resolveSibling("modelcache.lock").toFile());
    JsonNode files = locked.get("models").get("m").get("files");
    assertThat(files.get(1).get("path").asText()).isEqualTo("model.bin");
    assertThat(files.get(1).get("sha256").asText()).isEqualTo(sha256(WEIGHTS));
    assertThat(files.get(1).get("etag").asText()).isNotBlank();

    // the digests now come from the lockfile: nothing is trusted on first use any more
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      CliRun frozen = CliRun.of("fetch", "--frozen", "-c", config.toString());
      assertThat(frozen.code()).as(frozen.err()).isZero();
      assertThat(log.lines()).noneMatch(line -> line.startsWith("WARN"));
    }

    byte[] changed = "{\"a\": 22}\n".getBytes(StandardCharsets.UTF_8);
    s3.put("models", "m/config.json", changed, false);
    CliRun refused = CliRun.of("fetch", "--frozen", "-c", config.toString());
    assertThat(refused.code()).isEqualTo(1);
    assertThat(refused.err())
        .startsWith(
            "FAILED m: m - upstream no longer matches modelcache.lock (--frozen): config.json: "
                + CONFIG.length
                + " bytes in modelcache.lock, "
                + changed.length
                + " upstream; run 'modelcache lock' to accept the new state");

    CliRun again = CliRun.of("fetch", "-c", config.toString());
    assertThat(again.code()).as(again.err()).isZero();
    JsonNode relocked =
        new ObjectMapper()
            .readTree(config.resolveSibling("modelcache.lock").toFile())
            .get("models")
            .get("m")
            .get("files");
    assertThat(relocked.get(0).get("sha256").asText()).isEqualTo(sha256(changed));
    assertThat(relocked.get(1)).isEqualTo(files.get(1));
    assertThat(CliRun.of("fetch", "--frozen", "-c", config.toString()).code()).isZero();
  }

  @Test
  void mirrorCopiesAHubModelThatAFreshCacheFetchesBackFullyVerified() throws Exception {
    try (FakeHub hub = FakeHub.start()) {
      String commit =
          hub.repo("org/name")
              .file("model.safetensors", WEIGHTS, true)
              .file("config.json", CONFIG, false)
              .file("sub/notes.txt", "notes\n".getBytes(StandardCharsets.UTF_8), false)
              .commit("main");
      Path source = config("hub", "  hf:\n    endpoint: " + hub.endpoint() + "\n", "  []\n");

      CliRun mirror =
          CliRun.of("mirror", "-c", source.toString(), "hf://org/name", "s3://models/org/name");
      assertThat(mirror.code()).as(mirror.err()).isZero();
      assertThat(mirror.out())
          .startsWith(
              "mirrored hf://org/name (snapshot "
                  + commit
                  + ", 3 files, "
                  + (WEIGHTS.length + CONFIG.length + 6)
                  + " bytes) to s3://models/org/name: 3 uploaded");
      assertThat(mirror.err()).doesNotContain("WARN");

      CliRun twice =
          CliRun.of("mirror", "-c", source.toString(), "hf://org/name", "s3://models/org/name");
      assertThat(twice.out()).contains(": 0 uploaded (0 bytes), 3 already there");

      Path fleet = config("fleet", "", "  - name: m\n    source: s3://models/org/name\n");
      try (LogCapture log = new LogCapture(Fetcher.class)) {
        CliRun fetch = CliRun.of("fetch", "-c", fleet.toString(), "--frozen");
        assertThat(fetch.code()).as(fetch.err()).isEqualTo(1); // no lockfile of its own yet
        CliRun plain = CliRun.of("fetch", "-c", fleet.toString());
        assertThat(plain.code()).as(plain.err()).isZero();
        assertThat(log.lines()).noneMatch(line -> line.startsWith("WARN"));
      }
      Path snapshots = fleet.resolveSibling("cache/s3/models--org--name/snapshots");
      Path snapshot;
      try (var dirs = Files.list(snapshots)) {
        snapshot = dirs.findFirst().orElseThrow();
      }
      assertThat(snapshot.resolve("model.safetensors")).hasBinaryContent(WEIGHTS);
      assertThat(snapshot.resolve("config.json")).hasBinaryContent(CONFIG);
      assertThat(snapshot.resolve("sub/notes.txt")).hasContent("notes");
      Map<String, String> digests = new TreeMap<>();
      JsonNode lock = new ObjectMapper().readTree(fleet.resolveSibling("modelcache.lock").toFile());
      lock.get("models")
          .get("m")
          .get("files")
          .forEach(f -> digests.put(f.get("path").asText(), f.get("sha256").asText()));
      assertThat(digests)
          .containsEntry("model.safetensors", sha256(WEIGHTS))
          .containsEntry("config.json", sha256(CONFIG))
          .hasSize(3);
      // the bucket's own lockfile names the same digests
      JsonNode bucketLock =
          new ObjectMapper()
              .readTree(
                  s3.admin()
                      .getObjectAsBytes(b -> b.bucket("models").key("org/name/modelcache.lock"))
                      .asByteArray());
      assertThat(bucketLock.get("models").get("mirror").get("source").asText())
          .isEqualTo("s3://models/org/name");
      assertThat(bucketLock.get("models").get("mirror").get("files").size()).isEqualTo(3);
    }
  }

  @Test
  void mirrorRefusesATargetThatIsNotS3() throws Exception {
    Path source = config("x", "", "  []\n");
    CliRun run = CliRun.of("mirror", "-c", source.toString(), "file:.", "file:/tmp/elsewhere");
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err())
        .isEqualTo(
            "modelcache: mirror: TARGET 'file:/tmp/elsewhere' is not s3://{bucket}/{prefix}; only S3"
                + " can be mirrored to\n");
  }

  @Test
  void serveFetchesAModelFromS3VerifiesItAndAnswersInference() throws Exception {
    byte[] model = Files.readAllBytes(TestModels.MODELS.resolve("iris/model.pt"));
    s3.put("models", "demo/iris/model.pt", model, true);
    s3.put(
        "models",
        "demo/iris/config.json",
        Files.readAllBytes(TestModels.MODELS.resolve("iris/config.json")),
        false); // trusted on first use, recorded in modelcache.lock by the daemon
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("serve-cache")
            + "\nsources:\n  s3:\n    endpoint: "
            + s3.endpoint()
            + "\n    path_style: true\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - name: iris\n    source: s3://models/demo/iris\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
      daemon.prepared().get(120, TimeUnit.SECONDS);
      JsonNode reference = TestModels.reference("iris").get("cases").get(0);
      HttpResponse<String> answer =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + daemon.port() + "/inference/iris"))
                      .POST(
                          HttpRequest.BodyPublishers.ofString(
                              "{\"inputs\": " + reference.get("inputs") + "}"))
                      .header("Content-Type", "application/json")
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
      assertThat(answer.body()).contains("\"outputs\"");
    }
    JsonNode locked =
        new ObjectMapper().readTree(tmp.resolve("modelcache.lock").toFile()).get("models");
    assertThat(locked.get("iris").get("source").asText()).isEqualTo("s3://models/demo/iris");
    assertThat(locked.get("iris").get("files").get(1).get("sha256").asText())
        .isEqualTo(sha256(model));
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static byte[] random(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
