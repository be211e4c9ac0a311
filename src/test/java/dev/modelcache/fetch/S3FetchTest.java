package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.LogCapture;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.S3Source;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.s3.FaultProxy;
import dev.modelcache.source.s3.S3Server;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The S3 source and the fetcher against a real S3 server (S3Proxy, in-memory) on loopback, with
 * real signed requests, through a proxy that cuts or fails chosen requests.
 */
class S3FetchTest {
  private static final byte[] WEIGHTS = randomBytes(300_000, 1);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);

  @TempDir Path tmp;
  private S3Server s3;
  private FaultProxy proxy;
  private final List<Duration> sleeps = new ArrayList<>();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private long rangedMinBytes = Fetcher.RANGED_MIN_BYTES;
  private Fetcher fetcher;

  @BeforeEach
  void start() throws Exception {
    s3 = S3Server.start();
    proxy = FaultProxy.start(s3.port());
    s3.bucket("models");
  }

  @AfterEach
  void stop() throws Exception {
    if (fetcher != null) {
      fetcher.close();
    }
    proxy.close();
    s3.close();
  }

  private Config config(String modelYaml) {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  s3:\n    endpoint: "
            + proxy.endpoint()
            + "\n    path_style: true\nmodels:\n"
            + modelYaml;
    return new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
  }

  private Fetcher fetcher(Config config) {
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    Backoff backoff =
        new Backoff(
            4, Duration.ofMillis(100), Duration.ofSeconds(2), Duration.ofSeconds(30), () -> 1.0);
    fetcher =
        new Fetcher(
            new CacheStore(config.cache().dir()),
            Map.of(SourceRef.Scheme.S3, new S3Source()),
            new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
            new Metrics(registry),
            Clock.systemUTC(),
            false,
            backoff,
            sleeps::add,
            rangedMinBytes);
    return fetcher;
  }

  private InstalledSnapshot fetch(String modelYaml) throws Exception {
    return fetch(modelYaml, Optional.empty(), false);
  }

  private InstalledSnapshot fetch(String modelYaml, Optional<Lockfile.Locked> lock, boolean frozen)
      throws Exception {
    Config config = config(modelYaml);
    if (fetcher == null) {
      fetcher(config);
    }
    return fetcher.fetch(config.models().get(0), lock, frozen);
  }

  private static final String MODEL = "  - name: m\n    source: s3://models/org/m\n";

  @Test
  void fetchesAFolderVerifiedByItsChecksumsIntoTheS3Layout() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, true);
    s3.put("models", "org/m/config.json", CONFIG, true);
    s3.put("models", "org/m/sub/", new byte[0], false); // a "folder" marker
    s3.put("models", "org/m/sub/notes.txt", CONFIG, true);
    s3.put("models", "org/other/elsewhere.bin", WEIGHTS, true);

    InstalledSnapshot snapshot;
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      snapshot = fetch(MODEL);
      assertThat(log.lines()).noneMatch(line -> line.startsWith("WARN"));
    }

    Path repo = tmp.resolve("cache/s3/models--org--m");
    Map<String, String> listing = new TreeMap<>();
    listing.put("config.json", sha256(CONFIG));
    listing.put("model.bin", sha256(WEIGHTS));
    listing.put("sub/notes.txt", sha256(CONFIG));
    String id = CacheStore.snapshotId(listing);
    assertThat(snapshot.id()).isEqualTo(id);
    assertThat(snapshot.dir()).isEqualTo(repo.resolve("snapshots/" + id));
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(id);
    assertThat(repo.resolve("blobs/" + sha256(WEIGHTS))).hasBinaryContent(WEIGHTS);
    assertThat(Files.readSymbolicLink(repo.resolve("snapshots/" + id + "/sub/notes.txt")))
        .hasToString("../../../blobs/" + sha256(CONFIG));
    assertThat(snapshot.files().stream().map(InstalledSnapshot.InstalledFile::path))
        .containsExactly("config.json", "model.bin", "sub/notes.txt");
    assertThat(TestModels.filesUnder(repo.resolve("blobs"))).hasSize(2);
  }

  @Test
  void listsPastAThousandKeysPageByPage() throws Exception {
    for (int i = 0; i < 1003; i++) {
      s3.put("models", String.format("org/m/f%04d.txt", i), ("file " + i).getBytes(), false);
    }
    s3.put("models", "org/m/weights.bin", WEIGHTS, true);

    InstalledSnapshot snapshot =
        fetch(MODEL + "    include: [\"f1*\", \"*.bin\"]\n    exclude: [\"f1001.txt\"]\n");

    assertThat(snapshot.files().stream().map(InstalledSnapshot.InstalledFile::path))
        .containsExactly("f1000.txt", "f1002.txt", "weights.bin");
    assertThat(proxy.requests().stream().filter(r -> r.contains("list-type=2")))
        .hasSize(2)
        .last()
        .asString()
        .contains("continuation-token=");
  }

  @Test
  void aSidecarVouchesForAnObjectWithoutChecksum() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, false);
    s3.put(
        "models",
        "org/m/model.bin.sha256",
        (sha256(WEIGHTS) + "  model.bin\n").getBytes(StandardCharsets.UTF_8),
        false);

    InstalledSnapshot snapshot;
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      snapshot = fetch(MODEL);
      assertThat(log.lines()).noneMatch(line -> line.startsWith("WARN"));
    }

    assertThat(snapshot.files())
        .singleElement()
        .satisfies(f -> assertThat(f.path()).isEqualTo("model.bin"));
    assertThat(snapshot.files().get(0).sha256()).isEqualTo(sha256(WEIGHTS));
  }

  @Test
  void aWrongSidecarNeverInstallsAndNamesBothDigests() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, false);
    String wrong = sha256(CONFIG);
    s3.put("models", "org/m/model.bin.sha256", wrong.getBytes(StandardCharsets.UTF_8), false);

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessage(
            "m - model.bin: sha256 mismatch: expected "
                + wrong
                + " (the sidecar object model.bin.sha256), actual "
                + sha256(WEIGHTS)
                + "; the file was not installed. The bytes were damaged in transit or by the server;"
                + " fetch again, and if it persists report it upstream");
    assertThat(tmp.resolve("cache/s3/models--org--m/blobs")).doesNotExist();
  }

  @Test
  void aPinMismatchNeverInstallsAndNamesBothDigests() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, false);
    String pin = sha256(CONFIG);

    assertThatThrownBy(() -> fetch(MODEL + "    sha256:\n      model.bin: " + pin + "\n"))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "m - model.bin: sha256 mismatch: expected "
                + pin
                + " (pinned in the config), actual "
                + sha256(WEIGHTS)
                + "; the file was not installed.");
    assertThat(tmp.resolve("cache/s3/models--org--m/blobs")).doesNotExist();
  }

  @Test
  void aPinThatDisagreesWithTheChecksumFailsBeforeDownloading() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, true);
    String pin = sha256(CONFIG);

    assertThatThrownBy(() -> fetch(MODEL + "    sha256:\n      model.bin: " + pin + "\n"))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageContaining(sha256(WEIGHTS) + " (the object's x-amz-checksum-sha256)");
    assertThat(proxy.requests()).noneMatch(r -> r.startsWith("GET /models/org/m/model.bin"));
  }

  @Test
  void trustsOnFirstUseWithAWarningNamingTheFile() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, false);
    s3.put("models", "org/m/config.json", CONFIG, true);

    try (LogCapture log = new LogCapture(Fetcher.class)) {
      InstalledSnapshot snapshot = fetch(MODEL);
      assertThat(snapshot.files()).hasSize(2);
      assertThat(log.lines())
          .filteredOn(line -> line.startsWith("WARN"))
          .containsExactly(
              "WARN m - model.bin: nothing upstream vouches for its bytes (no pin, no"
                  + " x-amz-checksum-sha256, no model.bin.sha256 object): trusting them on first use;"
                  + " its SHA-256 is recorded in modelcache.lock");
    }
    Lockfile.Locked entry = fetcher.lockEntry(config(MODEL).models().get(0), fetchAgain());
    assertThat(entry.file("model.bin").orElseThrow().sha256()).isEqualTo(sha256(WEIGHTS));
    assertThat(entry.file("model.bin").orElseThrow().etag()).isNotBlank();
  }

  private InstalledSnapshot fetchAgain() throws Exception {
    return fetch(MODEL);
  }

  @Test
  void requirePinsRefusesTrustOnFirstUse() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, false);
    s3.put("models", "org/m/config.json", CONFIG, true);

    assertThatThrownBy(() -> fetch(MODEL + "    require_pins: true\n"))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - require_pins is set and nothing vouches for model.bin (no sha256 pin in the config or"
                + " modelcache.lock, no x-amz-checksum-sha256, no .sha256 sidecar object, no"
                + " modelcache.lock in the bucket); pin them, or run 'modelcache lock' where the bytes"
                + " can be trusted");
    assertThat(proxy.requests()).noneMatch(r -> r.startsWith("GET /models/org/m/model.bin"));
  }

  @Test
  void aLockEntryPinsUnchangedObjectsAndAChangedOneIsFetchedAgain() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, false);
    s3.put("models", "org/m/config.json", CONFIG, false);
    InstalledSnapshot first = fetch(MODEL);
    ModelConfig model = config(MODEL).models().get(0);
    Lockfile.Locked lock = fetcher.lockEntry(model, first);

    byte[] changed = "{\"a\": 22}\n".getBytes(StandardCharsets.UTF_8);
    s3.put("models", "org/m/config.json", changed, false);
    int before = proxy.requests().size();

    assertThatThrownBy(() -> fetch(MODEL, Optional.of(lock), true))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith(
            "m - upstream no longer matches modelcache.lock (--frozen): config.json: ")
        .hasMessageContaining("bytes in modelcache.lock");

    InstalledSnapshot second = fetch(MODEL, Optional.of(lock), false);
    List<String> gets =
        proxy.requests().subList(before, proxy.requests().size()).stream()
            .filter(r -> r.startsWith("GET /models/org/m/") && !r.contains("list-type"))
            .toList();
    assertThat(gets).singleElement().asString().startsWith("GET /models/org/m/config.json");
    assertThat(second.files())
        .filteredOn(f -> f.path().equals("config.json"))
        .singleElement()
        .satisfies(f -> assertThat(f.sha256()).isEqualTo(sha256(changed)));
    assertThat(fetcher.lockEntry(model, second).file("model.bin"))
        .isEqualTo(lock.file("model.bin"));
  }

  @Test
  void frozenNamesAnObjectReplacedWithTheSameSize() throws Exception {
    s3.put("models", "org/m/config.json", CONFIG, false);
    InstalledSnapshot first = fetch(MODEL);
    Lockfile.Locked lock = fetcher.lockEntry(config(MODEL).models().get(0), first);
    String oldEtag = lock.file("config.json").orElseThrow().etag();
    byte[] sameSize = "{\"b\": 1}\n".getBytes(StandardCharsets.UTF_8);
    s3.put("models", "org/m/config.json", sameSize, false);

    assertThatThrownBy(() -> fetch(MODEL, Optional.of(lock), true))
        .hasMessageStartingWith(
            "m - upstream no longer matches modelcache.lock (--frozen): config.json: ETag "
                + oldEtag
                + " in modelcache.lock, ");
  }

  @Test
  void fetchesThePinnedVersionOfAnObject() throws Exception {
    s3.versionedBucket("versioned");
    String v1 = s3.put("versioned", "m/model.bin", WEIGHTS, true);
    s3.put("versioned", "m/model.bin", CONFIG, true);
    assertThat(v1).isNotBlank();

    InstalledSnapshot snapshot =
        fetch(
            "  - name: m\n    source: s3://versioned/m\n    version_ids:\n      model.bin: \""
                + v1
                + "\"\n");

    assertThat(snapshot.files().get(0).sha256()).isEqualTo(sha256(WEIGHTS));
    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(WEIGHTS);
    assertThat(
            fetcher.lockEntry(config(MODEL).models().get(0), snapshot).files().get(0).versionId())
        .isEqualTo(v1);
  }

  @Test
  void resumesARangedDownloadAfterACut() throws Exception {
    byte[] big = randomBytes(3_000_000, 7);
    s3.put("models", "org/m/big.bin", big, true);
    rangedMinBytes = 1_000_000;
    proxy.fault(FaultProxy.cut("GET", "/models/org/m/big.bin", 200_000));

    InstalledSnapshot snapshot = fetch(MODEL);

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(big);
    List<String> gets =
        proxy.requests().stream().filter(r -> r.startsWith("GET /models/org/m/big.bin")).toList();
    // parallel ranges, plus one that resumed where the cut one stopped (not at a range's start)
    assertThat(gets).hasSizeGreaterThan(2).allMatch(r -> r.contains("range=bytes="));
    List<Long> starts =
        gets.stream()
            .map(r -> Long.parseLong(r.substring(r.indexOf("bytes=") + 6, r.lastIndexOf('-'))))
            .toList();
    assertThat(starts).hasSize(gets.size()).anyMatch(s -> s % 750_000 != 0);
    assertThat(sleeps).isNotEmpty();
  }

  @Test
  void slowDownIsRetriedWithBackoff() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, true);
    proxy.fault(FaultProxy.error("GET", "/models?list-type=2", 503, "SlowDown"));
    proxy.fault(FaultProxy.error("GET", "/models/org/m/model.bin", 503, "SlowDown"));

    InstalledSnapshot snapshot;
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      snapshot = fetch(MODEL);
      assertThat(log.lines())
          .anyMatch(
              line ->
                  line.startsWith(
                      "WARN m - listing s3://models/org/m: the store answered SlowDown, HTTP 503"));
      // the model and what failed are said once, though the source's message starts with them
      assertThat(log.lines()).noneMatch(line -> line.contains("org/m: m - listing"));
    }
    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(WEIGHTS);
    assertThat(sleeps).hasSize(2);
    assertThat(registry.get(Metrics.FETCH_RETRIES).counter().count()).isEqualTo(2.0);
  }

  @Test
  void accessDeniedSaysWhatToCheck() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, true);

    assertThatThrownBy(() -> fetch(MODEL + "    s3:\n      anonymous: true\n"))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - listing s3://models/org/m: access denied (AccessDenied, HTTP 403) at"
                + " s3://models/org/m at "
                + proxy.endpoint()
                + "; check that the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, the role) may"
                + " s3:ListBucket and s3:GetObject there (s3:PutObject to mirror), or set anonymous: true"
                + " for a public bucket");
  }

  @Test
  void expiredCredentialsSayToRefreshThem() throws Exception {
    proxy.fault(FaultProxy.error("GET", "/models?list-type=2", 400, "ExpiredToken"));

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - listing s3://models/org/m: the AWS credentials have expired (ExpiredToken, HTTP"
                + " 400); refresh them (a new session token, 'aws sso login', the role's web identity"
                + " token)");
  }

  @Test
  void aMissingBucketIsNamed() {
    assertThatThrownBy(() -> fetch("  - name: m\n    source: s3://no-such-bucket/m\n"))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - bucket 'no-such-bucket' does not exist at "
                + proxy.endpoint()
                + "; check the bucket name in s3://no-such-bucket/m, the endpoint and the region");
  }

  @Test
  void anUnreachableEndpointIsRetriedThenNamed() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  s3:\n    endpoint: http://127.0.0.1:"
            + closedPort
            + "\n    path_style: true\nmodels:\n"
            + MODEL;
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);

    assertThatThrownBy(() -> fetcher(config).fetch(config.models().get(0)))
        .isInstanceOf(SourceException.class)
        .hasMessageStartingWith(
            "m - listing s3://models/org/m: cannot reach the S3 endpoint http://127.0.0.1:"
                + closedPort
                + " (ConnectException: ")
        .hasMessageEndingWith(
            "); check the endpoint (sources.s3.endpoint, the model's s3.endpoint,"
                + " AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the AWS profile's endpoint_url) and"
                + " the network (gave up after 4 attempts)");
    assertThat(sleeps).hasSize(3);
  }

  @Test
  void refusesAKeyThatWouldEscapeTheModelFolder() throws Exception {
    s3.put("models", "org/m/model.bin", WEIGHTS, true);
    s3.put("models", "org/m/dotdot/evil", CONFIG, true);
    // the store keeps keys normalised: a hostile server's listing is written by the proxy
    proxy.fault(FaultProxy.rewrite("GET", "/models?list-type=2", "org/m/dotdot/", "org/m/../"));

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - refusing S3 key 'org/m/../evil' of s3://models/org/m: as a file path it is"
                + " absolute or has '..', '.' or empty segments or control characters, and could escape"
                + " the model's folder; rename the object or exclude it");
    assertThat(tmp.resolve("cache/s3/models--org--m/blobs")).doesNotExist();
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
