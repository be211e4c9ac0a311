package dev.modelcache.fetch;

import static dev.modelcache.fetch.S3FetchTest.randomBytes;
import static dev.modelcache.fetch.S3FetchTest.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.AzureSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.azure.Azurite;
import dev.modelcache.source.s3.FaultProxy;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Azure source and the fetcher against Azurite (the real Azure Storage emulator) on loopback,
 * with requests signed by the development account's key, through a proxy that cuts chosen requests.
 */
class AzureFetchTest {
  private static final byte[] WEIGHTS = randomBytes(300_000, 1);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);
  private static final String MODEL =
      "  - name: m\n    source: az://" + Azurite.ACCOUNT + "/models/org/m\n";
  private static final String REPO = "cache/azure/" + Azurite.ACCOUNT + "--models--org--m";

  @TempDir Path tmp;

  private Azurite azurite;
  private FaultProxy proxy;
  private final List<Duration> sleeps = new ArrayList<>();
  private long rangedMinBytes = Fetcher.RANGED_MIN_BYTES;
  private int chunk = 4 << 20;
  private Map<String, String> env = Map.of("AZURE_STORAGE_KEY", Azurite.KEY);
  private Fetcher fetcher;

  @BeforeEach
  void start() throws Exception {
    azurite = Azurite.start(tmp);
    proxy = FaultProxy.start(azurite.port());
    azurite.container("models");
  }

  @AfterEach
  void stop() throws Exception {
    if (fetcher != null) {
      fetcher.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (azurite != null) {
      azurite.close();
    }
  }

  private Config config(String modelYaml) {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  azure:\n    endpoint: http://127.0.0.1:"
            + proxy.endpoint().getPort()
            + "/{account}\nmodels:\n"
            + modelYaml;
    return new ConfigLoader(env, tmp).parse(yaml, "test config", tmp);
  }

  private InstalledSnapshot fetch(String modelYaml) throws Exception {
    return fetch(modelYaml, Optional.empty(), false);
  }

  private InstalledSnapshot fetch(String modelYaml, Optional<Lockfile.Locked> lock, boolean frozen)
      throws Exception {
    Config config = config(modelYaml);
    if (fetcher == null) {
      List<String> names = config.models().stream().map(ModelConfig::name).toList();
      Backoff backoff =
          new Backoff(
              4, Duration.ofMillis(100), Duration.ofSeconds(2), Duration.ofSeconds(30), () -> 1.0);
      fetcher =
          new Fetcher(
              new CacheStore(config.cache().dir()),
              Map.of(SourceRef.Scheme.AZURE, new AzureSource(config.sources().azure(), env, chunk)),
              new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
              new Metrics(new SimpleMeterRegistry()),
              Clock.systemUTC(),
              false,
              backoff,
              sleeps::add,
              rangedMinBytes);
    }
    return fetcher.fetch(config.models().get(0), lock, frozen);
  }

  @Test
  void fetchesAFolderWithIncludeAndExcludeIntoTheAzureLayout() throws Exception {
    azurite.put("models", "org/m/model.bin", WEIGHTS);
    azurite.put("models", "org/m/model.bin.sha256", sha256(WEIGHTS) + "  model.bin\n");
    azurite.put("models", "org/m/config.json", CONFIG);
    azurite.put("models", "org/m/config.json.sha256", sha256(CONFIG));
    azurite.put("models", "org/m/sub/", new byte[0]); // a "folder" marker
    azurite.put("models", "org/m/sub/notes.txt", CONFIG);
    azurite.put("models", "org/m/sub/notes.txt.sha256", sha256(CONFIG));
    azurite.put("models", "org/m/skip.onnx", CONFIG);
    azurite.put("models", "org/other/elsewhere.bin", WEIGHTS);

    InstalledSnapshot snapshot;
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      snapshot =
          fetch(
              MODEL
                  + "    include: [\"*.bin\", \"*.json\", \"sub/*\"]\n    exclude: [\"*.onnx\"]\n");
      assertThat(log.lines()).noneMatch(line -> line.startsWith("WARN"));
    }

    Path repo = tmp.resolve(REPO);
    Map<String, String> listing = new TreeMap<>();
    listing.put("config.json", sha256(CONFIG));
    listing.put("model.bin", sha256(WEIGHTS));
    listing.put("sub/notes.txt", sha256(CONFIG));
    String id = CacheStore.snapshotId(listing);
    assertThat(snapshot.id()).isEqualTo(id);
    assertThat(snapshot.dir()).isEqualTo(repo.resolve("snapshots/" + id));
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(id);
    assertThat(repo.resolve("blobs/" + sha256(WEIGHTS))).hasBinaryContent(WEIGHTS);
    assertThat(snapshot.files().stream().map(InstalledSnapshot.InstalledFile::path))
        .containsExactly("config.json", "model.bin", "sub/notes.txt");
  }

  @Test
  void aWrongSidecarNeverInstallsAndNamesTheFileAndBothDigests() throws Exception {
    azurite.put("models", "org/m/model.bin", WEIGHTS);
    String wrong = sha256(CONFIG);
    azurite.put("models", "org/m/model.bin.sha256", wrong);

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessage(
            "m - model.bin: sha256 mismatch: expected "
                + wrong
                + " (the sidecar blob model.bin.sha256), actual "
                + sha256(WEIGHTS)
                + "; the file was not installed. The bytes were damaged in transit or by the server;"
                + " fetch again, and if it persists report it upstream");
    assertThat(tmp.resolve(REPO + "/blobs")).doesNotExist();
  }

  @Test
  void aPinMismatchNeverInstallsAndNamesBothDigests() throws Exception {
    azurite.put("models", "org/m/model.bin", WEIGHTS);
    String pin = sha256(CONFIG);

    assertThatThrownBy(() -> fetch(MODEL + "    sha256:\n      model.bin: " + pin + "\n"))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "m - model.bin: sha256 mismatch: expected "
                + pin
                + " (pinned in the config), actual "
                + sha256(WEIGHTS)
                + "; the file was not installed.");
    assertThat(tmp.resolve(REPO + "/blobs")).doesNotExist();
  }

  @Test
  void trustsOnFirstUseWithAWarningAndTheLockEntryKeepsTheEtag() throws Exception {
    String etag = azurite.put("models", "org/m/model.bin", WEIGHTS);

    InstalledSnapshot snapshot;
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      snapshot = fetch(MODEL);
      assertThat(log.lines())
          .filteredOn(line -> line.startsWith("WARN"))
          .containsExactly(
              "WARN m - model.bin: nothing upstream vouches for its bytes (no pin, no"
                  + " model.bin.sha256 blob): trusting them on first use; its SHA-256 is recorded in"
                  + " modelcache.lock");
    }
    Lockfile.Locked entry = fetcher.lockEntry(config(MODEL).models().get(0), snapshot);
    assertThat(entry.file("model.bin").orElseThrow().sha256()).isEqualTo(sha256(WEIGHTS));
    assertThat(entry.file("model.bin").orElseThrow().etag()).isEqualTo(etag.replace("\"", ""));
  }

  @Test
  void requirePinsRefusesTrustOnFirstUse() throws Exception {
    azurite.put("models", "org/m/model.bin", WEIGHTS);

    assertThatThrownBy(() -> fetch(MODEL + "    require_pins: true\n"))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - require_pins is set and nothing vouches for model.bin (no sha256 pin in the config or"
                + " modelcache.lock, no .sha256 sidecar blob (a Content-MD5 checks transport only));"
                + " pin them, or run 'modelcache lock' where the bytes can be trusted");
    assertThat(proxy.requests())
        .noneMatch(r -> r.startsWith("GET /devstoreaccount1/models/org/m/model.bin"));
  }

  @Test
  void resumesAfterACutConnectionFromTheLastCheckedChunk() throws Exception {
    byte[] big = randomBytes(3_000_000, 7);
    azurite.put("models", "org/m/big.bin", big);
    rangedMinBytes = 1_000_000;
    chunk = 250_000;
    proxy.fault(FaultProxy.cut("GET", "/devstoreaccount1/models/org/m/big.bin", 200_000));

    InstalledSnapshot snapshot = fetch(MODEL + "    sha256:\n      big.bin: " + sha256(big) + "\n");

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(big);
    assertThat(sleeps).as("the cut was retried after a pause").isNotEmpty();
    List<String> gets =
        proxy.requests().stream()
            .filter(r -> r.startsWith("GET /devstoreaccount1/models/org/m/big.bin"))
            .toList();
    // 3 MB in chunks of 250 kB: 12 chunks, plus the one cut and asked for again
    assertThat(gets).hasSizeGreaterThanOrEqualTo(13);
  }

  @Test
  void aContentMd5MismatchIsRetriedAndNeverInstalled() throws Exception {
    azurite.put("models", "org/m/config.json", CONFIG);
    azurite.contentMd5(
        "models", "org/m/config.json", MessageDigest.getInstance("MD5").digest(WEIGHTS));

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining("m - config.json: gave up after")
        .hasMessageContaining("Content-MD5 mismatch: the answer says ");
    assertThat(tmp.resolve(REPO + "/blobs")).doesNotExist();
  }

  @Test
  void aWrongKeyIsRefusedNamingWhereItCameFromNeverTheKey() throws Exception {
    azurite.put("models", "org/m/model.bin", WEIGHTS);
    String wrongKey = java.util.Base64.getEncoder().encodeToString(new byte[64]);
    env = Map.of("AZURE_STORAGE_KEY", wrongKey);

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith(
            "m - listing of az://devstoreaccount1/models/org/m answered HTTP 403")
        .hasMessageContaining("Azure refused the credential ($AZURE_STORAGE_KEY)")
        .message()
        .doesNotContain(wrongKey);
  }

  @Test
  void aMissingContainerIsNamed() {
    assertThatThrownBy(() -> fetch("  - name: m\n    source: az://devstoreaccount1/nothere/m\n"))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - listing of az://devstoreaccount1/nothere/m answered HTTP 404 ContainerNotFound; no"
                + " such container in that account: check the account and container of the source");
  }
}
