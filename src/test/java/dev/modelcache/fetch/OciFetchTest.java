package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.OciSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.oci.OciFront;
import dev.modelcache.source.oci.OciRegistry;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code oci://} models against a real registry on loopback (Debian's {@code docker-registry}),
 * artifacts pushed through its HTTP API as ORAS does: by tag and by manifest digest into {@code
 * oci/{registry}--{repository}}, a cut connection resumed, tampered blob bytes refused naming the
 * file and both digests, an unknown tag, and a login from Docker's {@code config.json} answering a
 * {@code Bearer} challenge (a front on loopback plays the registry's token service).
 */
class OciFetchTest {
  private static final byte[] WEIGHTS = HubFetchTest.randomBytes(200_000, 11);
  private static final String WEIGHTS_SHA = HubFetchTest.sha256(WEIGHTS);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);
  private static final String CONFIG_SHA = HubFetchTest.sha256(CONFIG);

  @TempDir Path tmp;
  private OciRegistry registry;
  private OciFront front;
  private Fetcher fetcher;
  private String manifest;
  private final List<Duration> sleeps = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    registry = OciRegistry.start(tmp);
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("onnx/model.bin", WEIGHTS);
    files.put("config.json", CONFIG);
    manifest = registry.push("team/iris", "v1", files);
  }

  @AfterEach
  void stop() {
    if (fetcher != null) {
      fetcher.close();
    }
    if (front != null) {
      front.close();
    }
    registry.close();
  }

  private ModelConfig model(String source, String sources) {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  oci:\n"
            + sources
            + "models:\n  - name: m\n    source: "
            + source
            + "\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    this.config = config;
    return config.models().get(0);
  }

  private Config config;

  private InstalledSnapshot fetch(ModelConfig model, long rangedMin) throws Exception {
    if (fetcher == null) {
      fetcher =
          new Fetcher(
              new CacheStore(tmp.resolve("cache")),
              Map.of(
                  SourceRef.Scheme.OCI, new OciSource(config.sources().oci(), new OkHttpClient())),
              new ModelStates(List.of("m"), Set.of("m"), Clock.systemUTC()),
              new Metrics(new SimpleMeterRegistry()),
              Clock.systemUTC(),
              false,
              new Backoff(
                  4,
                  Duration.ofMillis(100),
                  Duration.ofSeconds(2),
                  Duration.ofSeconds(30),
                  () -> 1.0),
              sleeps::add,
              rangedMin);
    }
    return fetcher.fetch(model);
  }

  private Path repo() {
    return tmp.resolve("cache/oci/127.0.0.1_" + registry.port() + "--team--iris");
  }

  @Test
  void fetchesAnArtifactByTagAndByManifestDigest() throws Exception {
    InstalledSnapshot snapshot =
        fetch(model("oci://" + registry.host() + "/team/iris:v1", ""), 64 * 1024);

    assertThat(snapshot.id()).isEqualTo(manifest);
    assertThat(snapshot.dir()).isEqualTo(repo().resolve("snapshots/" + manifest));
    assertThat(snapshot.dir().resolve("onnx/model.bin")).hasBinaryContent(WEIGHTS);
    assertThat(snapshot.dir().resolve("config.json")).hasBinaryContent(CONFIG);
    assertThat(repo().resolve("blobs/" + WEIGHTS_SHA)).hasBinaryContent(WEIGHTS);
    assertThat(repo().resolve("blobs/" + CONFIG_SHA)).hasBinaryContent(CONFIG);
    assertThat(repo().resolve("refs/v1")).hasContent(manifest);

    fetcher.close();
    fetcher = null;
    InstalledSnapshot pinned =
        fetch(model("oci://" + registry.host() + "/team/iris@sha256:" + manifest, ""), 64 * 1024);
    assertThat(pinned.id()).isEqualTo(manifest);
    assertThat(Files.list(repo().resolve("refs")).map(p -> p.getFileName().toString()))
        .as("a digest is no ref")
        .containsExactly("v1");
  }

  @Test
  void resumesACutConnectionFromTheBytesItHas() throws Exception {
    front = OciFront.start(registry).cutOnce(WEIGHTS_SHA, 50_000);
    InstalledSnapshot snapshot =
        fetch(model("oci://" + front.host() + "/team/iris:v1", ""), Fetcher.RANGED_MIN_BYTES);
    assertThat(snapshot.dir().resolve("onnx/model.bin")).hasBinaryContent(WEIGHTS);
    List<OciFront.Recorded> gets =
        front.requests().stream().filter(r -> r.path().endsWith(WEIGHTS_SHA)).toList();
    assertThat(gets)
        .extracting(OciFront.Recorded::range)
        .containsExactly(null, "bytes=50000-199999");
    assertThat(sleeps).hasSize(1);
  }

  @Test
  void refusesWrongBytesNamingTheFileAndBothDigests() throws Exception {
    byte[] wrong = WEIGHTS.clone();
    wrong[wrong.length / 2] ^= 1;
    Files.write(registry.blobData(WEIGHTS_SHA), wrong);
    assertThatThrownBy(
            () -> fetch(model("oci://" + registry.host() + "/team/iris:v1", ""), 64 * 1024))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "m - onnx/model.bin: sha256 mismatch: expected "
                + WEIGHTS_SHA
                + " (the registry's layer digest), actual "
                + HubFetchTest.sha256(wrong)
                + "; the file was not installed.");
    assertThat(repo().resolve("refs/v1")).doesNotExist();
  }

  @Test
  void anUnknownTagOrRepositoryIsAClearErrorAndNotRetried() {
    assertThatThrownBy(
            () -> fetch(model("oci://" + registry.host() + "/team/iris:v9", ""), 64 * 1024))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - "
                + registry.host()
                + " answered HTTP 404 MANIFEST_UNKNOWN for the manifest "
                + registry.host()
                + "/team/iris:v9; no such tag or digest in team/iris: check the source's tag or"
                + " digest (push the artifact first?)");
    assertThat(sleeps).isEmpty();
  }

  @Test
  void refusesAnImageIndexAndAnImageWithoutTitledLayers() throws Exception {
    String layer = registry.pushBlob("team/image", WEIGHTS);
    String config = registry.pushBlob("team/image", CONFIG);
    String image =
        registry.putManifest(
            "team/image",
            "modelcar",
            ("{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
                    + " \"config\": {\"mediaType\": \"application/vnd.oci.image.config.v1+json\","
                    + " \"digest\": \"sha256:"
                    + config
                    + "\", \"size\": "
                    + CONFIG.length
                    + "},"
                    + " \"layers\": [{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\","
                    + " \"digest\": \"sha256:"
                    + layer
                    + "\", \"size\": "
                    + WEIGHTS.length
                    + "}]}")
                .getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(
            () -> fetch(model("oci://" + registry.host() + "/team/image:modelcar", ""), 64 * 1024))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining(
            "has no layer titled by org.opencontainers.image.title: modelcache fetches ORAS-style"
                + " artifacts (one layer per file, titled by its path), and does not unpack image tar"
                + " layers (a KServe modelcar image)");
    assertThat(image).hasSize(64);
  }

  @Test
  void refusesAnImageIndexListingItsManifestsToPin() throws Exception {
    int size = registry.manifest("team/iris", "v1").length;
    String entry =
        "{\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"sha256:"
            + manifest
            + "\", \"size\": "
            + size;
    registry.putManifest(
        "team/iris",
        "multi",
        ("{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\","
                + " \"manifests\": ["
                + entry
                + ", \"artifactType\": \"application/vnd.modelcache.test.model\"}, "
                + entry
                + ", \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"}}]}")
            .getBytes(StandardCharsets.UTF_8),
        "application/vnd.oci.image.index.v1+json");

    Throwable thrown =
        org.assertj.core.api.Assertions.catchThrowable(
            () -> fetch(model("oci://" + registry.host() + "/team/iris:multi", ""), 64 * 1024));
    System.out.println("OciFetchTest: " + thrown.getMessage());
    assertThat(thrown)
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - the manifest "
                + registry.host()
                + "/team/iris:multi is an image index, not one artifact's manifest: pin one of its"
                + " manifests with @sha256:... in the source (sha256:"
                + manifest
                + " (application/vnd.modelcache.test.model), sha256:"
                + manifest
                + " (linux/amd64))");
    assertThat(sleeps).as("not retried").isEmpty();
    assertThat(repo().resolve("snapshots")).doesNotExist();
  }

  @Test
  void logsInWithDockersConfigToAnswerABearerChallengeAndNeverLogsTheSecrets() throws Exception {
    front = OciFront.start(registry).requireBearer("alice", "pw-7Hq2-secret");
    String auth =
        Base64.getEncoder().encodeToString("alice:pw-7Hq2-secret".getBytes(StandardCharsets.UTF_8));
    Path dockerConfig =
        Files.writeString(
            tmp.resolve("config.json"),
            "{\"auths\": {\"" + front.host() + "\": {\"auth\": \"" + auth + "\"}}}");
    String source = "oci://" + front.host() + "/team/iris:v1";

    assertThatThrownBy(() -> fetch(model(source, "    plain_http: []\n"), 64 * 1024))
        .as("without a login")
        .isInstanceOf(SourceException.class)
        .hasMessageContaining(
            "m - the token service of "
                + front.host()
                + " answered HTTP 401 for team/iris; it needs a login, and there is none for it in"
                + " Docker's config.json (none found)");
    fetcher.close();
    fetcher = null;

    try (LogCapture log = new LogCapture(Fetcher.class)) {
      InstalledSnapshot snapshot =
          fetch(model(source, "    docker_config: " + dockerConfig + "\n"), 64 * 1024);
      assertThat(snapshot.dir().resolve("onnx/model.bin")).hasBinaryContent(WEIGHTS);
      assertThat(String.join("\n", log.lines()))
          .contains("m - fetching 2 of 2 files")
          .doesNotContain("pw-7Hq2-secret", auth, OciFront.TOKEN);
    }
    assertThat(front.requests())
        .filteredOn(r -> r.path().contains("/blobs/"))
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.authorization()).isEqualTo("Bearer " + OciFront.TOKEN));
    assertThat(front.requests())
        .filteredOn(r -> r.path().equals("/token"))
        .extracting(OciFront.Recorded::authorization)
        .contains("Basic " + auth);
  }
}
