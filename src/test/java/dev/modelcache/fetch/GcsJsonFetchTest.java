package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.GcsSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.gcs.FakeGcs;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code gs://} source without an HMAC key: Cloud Storage's JSON API, played by {@link FakeGcs}
 * (no GCS emulator is reachable from this build's package registries), with the fetcher on top:
 * pagination, generation-pinned media reads, resume after a cut, parallel ranges, the CRC32C/MD5
 * transport check, pins and sidecars, and application default credentials from a service account
 * key whose {@code token_uri} is the fake's.
 */
class GcsJsonFetchTest {
  private static final byte[] WEIGHTS = randomBytes(300_000, 1);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);
  private static final String MODEL = "  - name: m\n    source: gs://models/org/m\n";

  @TempDir Path tmp;
  private FakeGcs gcs;
  private final OkHttpClient http = new OkHttpClient();
  private final List<Duration> sleeps = new ArrayList<>();
  private Fetcher fetcher;

  @BeforeEach
  void start() throws Exception {
    gcs = FakeGcs.start();
  }

  @AfterEach
  void stop() {
    if (fetcher != null) {
      fetcher.close();
    }
    gcs.close();
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  private Map<String, String> emulator() {
    return Map.of("STORAGE_EMULATOR_HOST", gcs.endpoint().substring("http://".length()));
  }

  private InstalledSnapshot fetch(Map<String, String> env, String yaml, long rangedMin)
      throws Exception {
    Config config = new ConfigLoader(env, tmp).parse(yaml, "test config", tmp);
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    fetcher =
        new Fetcher(
            new CacheStore(config.cache().dir()),
            Map.of(SourceRef.Scheme.GCS, new GcsSource(config.sources().gcs(), http, env)),
            new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
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
    return fetcher.fetch(config.models().get(0), Optional.empty(), false);
  }

  private InstalledSnapshot fetch(String modelYaml) throws Exception {
    return fetch(
        emulator(),
        "cache:\n  dir: " + tmp.resolve("cache") + "\nmodels:\n" + modelYaml,
        Fetcher.RANGED_MIN_BYTES);
  }

  @Test
  void listsPageByPageAndReadsEachObjectAtItsListedGeneration() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.put("models", "org/m/model.bin.sha256", (sha256(WEIGHTS) + "  model.bin\n").getBytes());
    gcs.put("models", "org/m/config.json", CONFIG);
    gcs.put("models", "org/m/notes.txt", CONFIG);
    gcs.put("models", "org/m/sub/extra.bin", CONFIG);
    gcs.put("models", "org/other/elsewhere.bin", WEIGHTS);

    InstalledSnapshot snapshot =
        fetch(MODEL + "    include: ['*.bin', '*.json']\n    exclude: ['sub/*']\n");

    assertThat(snapshot.files())
        .extracting(f -> f.path() + " " + f.sha256())
        .containsExactly("config.json " + sha256(CONFIG), "model.bin " + sha256(WEIGHTS));
    Path repo = tmp.resolve("cache/gcs/models--org--m");
    assertThat(repo.resolve("blobs").resolve(sha256(WEIGHTS))).hasBinaryContent(WEIGHTS);
    List<String> targets = gcs.requests().stream().map(FakeGcs.Recorded::target).toList();
    assertThat(targets)
        .as("three pages of two")
        .contains(
            "/storage/v1/b/models/o?prefix=org%2Fm%2F",
            "/storage/v1/b/models/o?prefix=org%2Fm%2F&pageToken="
                + Base64.getEncoder().encodeToString("org/m/model.bin".getBytes()))
        .contains(
            "/storage/v1/b/models/o/org%2Fm%2Fmodel.bin?alt=media&generation="
                + gcs.object("models", "org/m/model.bin").generation())
        .noneMatch(t -> t.contains("notes.txt") || t.contains("extra.bin"));
    assertThat(gcs.requests()).allMatch(r -> r.authorization().isEmpty(), "no credentials");
  }

  @Test
  void resumesAfterACutAndFetchesBigFilesAsParallelRanges() throws Exception {
    byte[] big = randomBytes(3_000_000, 7);
    gcs.put("models", "org/m/big.bin", big);
    gcs.put("models", "org/m/small.bin", WEIGHTS);
    gcs.cutOnce("org/m/big.bin", 200_000);
    gcs.cutOnce("org/m/small.bin", 1_000);

    InstalledSnapshot snapshot =
        fetch(
            emulator(),
            "cache:\n  dir: "
                + tmp.resolve("cache")
                + "\nmodels:\n"
                + MODEL
                + "    sha256: {big.bin: "
                + sha256(big)
                + ", small.bin: "
                + sha256(WEIGHTS)
                + "}\n",
            1_000_000);

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(big);
    assertThat(snapshot.files().get(1).blob()).hasBinaryContent(WEIGHTS);
    assertThat(gcs.requests())
        .filteredOn(r -> r.target().contains("big.bin?alt=media"))
        .extracting(FakeGcs.Recorded::range)
        .as("four ranges, one resumed")
        .hasSizeGreaterThanOrEqualTo(5)
        .allMatch(r -> r.startsWith("bytes="));
    assertThat(gcs.requests())
        .filteredOn(r -> r.target().contains("small.bin?alt=media"))
        .extracting(FakeGcs.Recorded::range)
        .containsExactly("", "bytes=1000-299999");
  }

  @Test
  void corruptedBytesAreDroppedAndFetchedAgain() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.corrupt("org/m/model.bin", 1);

    InstalledSnapshot snapshot =
        fetch(MODEL + "    sha256: {model.bin: " + sha256(WEIGHTS) + "}\n");

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(WEIGHTS);
    assertThat(sleeps).hasSize(1);
  }

  @Test
  void bytesThatStayCorruptAreRefusedNamingTheFileAndBothCrc32cAndMd5Values() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.corrupt("org/m/model.bin", 100);
    byte[] spoiled = WEIGHTS.clone();
    spoiled[spoiled.length / 2] ^= 1;

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - model.bin: CRC32C mismatch: the object's metadata says "
                + hex(FakeGcs.crc32c(WEIGHTS))
                + " ("
                + FakeGcs.crc32c(WEIGHTS)
                + "), the bytes have "
                + hex(FakeGcs.crc32c(spoiled))
                + " ("
                + FakeGcs.crc32c(spoiled)
                + "), MD5 mismatch: the object's metadata says "
                + hex(FakeGcs.md5(WEIGHTS))
                + " ("
                + FakeGcs.md5(WEIGHTS)
                + "), the bytes have "
                + hex(FakeGcs.md5(spoiled))
                + " ("
                + FakeGcs.md5(spoiled)
                + "); damaged in transit: the bytes were dropped (gave up after 4 attempts)");
    assertThat(tmp.resolve("cache/gcs/models--org--m/blobs")).doesNotExist();
    assertThat(tmp.resolve("modelcache.lock")).doesNotExist();
  }

  @Test
  void aCompositeObjectIsCheckedByItsCrc32cAlone() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS, true);
    gcs.corrupt("org/m/model.bin", 1);

    InstalledSnapshot snapshot = fetch(MODEL);

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(WEIGHTS);
    assertThat(sleeps).hasSize(1);
  }

  @Test
  void aWrongPinNamesTheFileAndBothSha256() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    String wrong = "ab".repeat(32);

    assertThatThrownBy(() -> fetch(MODEL + "    sha256: {model.bin: " + wrong + "}\n"))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith("m - model.bin: sha256 mismatch: expected " + wrong)
        .hasMessageContaining("actual " + sha256(WEIGHTS));
    assertThat(tmp.resolve("cache/gcs/models--org--m/blobs")).doesNotExist();
  }

  @Test
  void requirePinsRefusesAFileNothingVouchesFor() {
    gcs.put("models", "org/m/model.bin", WEIGHTS);

    assertThatThrownBy(() -> fetch(MODEL + "    require_pins: true\n"))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining("m - require_pins is set and nothing vouches for model.bin");
    assertThat(gcs.requests()).noneMatch(r -> r.target().contains("alt=media"));
  }

  @Test
  void aBucketLockVouchesForEachFileAndIsNotOneOfThem() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.put("models", "org/m/config.json", CONFIG);
    gcs.put("models", "org/m/modelcache.lock", lock(WEIGHTS.length, sha256(WEIGHTS)));

    InstalledSnapshot snapshot = fetch(MODEL + "    require_pins: true\n");

    assertThat(snapshot.files())
        .extracting(f -> f.path() + " " + f.sha256())
        .containsExactly("config.json " + sha256(CONFIG), "model.bin " + sha256(WEIGHTS));
    assertThat(gcs.requests())
        .extracting(FakeGcs.Recorded::target)
        .contains("/storage/v1/b/models/o/org%2Fm%2Fmodelcache.lock?alt=media");
  }

  @Test
  void bytesThatDisagreeWithTheBucketLockAreRefusedNamingBothSha256() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.put("models", "org/m/config.json", CONFIG);
    String wrong = "cd".repeat(32);
    gcs.put("models", "org/m/modelcache.lock", lock(WEIGHTS.length, wrong));

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith("m - model.bin: sha256 mismatch: expected " + wrong)
        .hasMessageContaining("actual " + sha256(WEIGHTS));
  }

  @Test
  void aBucketLockEntryOfAnotherSizeVouchesForNothing() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.put("models", "org/m/config.json", CONFIG);
    gcs.put("models", "org/m/modelcache.lock", lock(WEIGHTS.length + 1, sha256(WEIGHTS)));

    assertThatThrownBy(() -> fetch(MODEL + "    require_pins: true\n"))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining("m - require_pins is set and nothing vouches for model.bin");
  }

  @Test
  void aBucketLockThatIsNotJsonSaysWhatToDo() {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.put("models", "org/m/modelcache.lock", "{not json".getBytes(StandardCharsets.UTF_8));

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining(
            "m - the bucket's modelcache.lock at gs://models/org/m is not valid JSON")
        .hasMessageEndingWith("; mirror the model again or delete it");
  }

  /**
   * A bucket lock as {@code modelcache mirror} writes it, vouching for model.bin and config.json.
   */
  private static byte[] lock(long weightsSize, String weightsSha256) throws Exception {
    return ("{\"version\": 1, \"models\": [{\"name\": \"m\", \"files\": ["
            + "{\"path\": \"model.bin\", \"size\": "
            + weightsSize
            + ", \"sha256\": \""
            + weightsSha256
            + "\"}, {\"path\": \"config.json\", \"size\": "
            + CONFIG.length
            + ", \"sha256\": \""
            + sha256(CONFIG)
            + "\"}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aServiceAccountKeyInGoogleApplicationCredentialsSignsEveryRequest() throws Exception {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.requireBearer(true);
    Path key = tmp.resolve("sa.json");
    gcs.writeServiceAccount(key);

    InstalledSnapshot snapshot =
        fetch(
            Map.of("GOOGLE_APPLICATION_CREDENTIALS", key.toString()),
            "cache:\n  dir: "
                + tmp.resolve("cache")
                + "\nsources:\n  gcs:\n    json_endpoint: "
                + gcs.endpoint()
                + "\nmodels:\n"
                + MODEL
                + "    sha256: {model.bin: "
                + sha256(WEIGHTS)
                + "}\n",
            Fetcher.RANGED_MIN_BYTES);

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(WEIGHTS);
    assertThat(gcs.assertions()).hasSize(1);
    assertThat(gcs.minted()).containsExactly("ya29.fake-1");
    assertThat(gcs.requests())
        .filteredOn(r -> r.target().startsWith("/storage/v1/"))
        .hasSizeGreaterThanOrEqualTo(2)
        .allMatch(r -> r.authorization().equals("Bearer ya29.fake-1"));
  }

  @Test
  void aRefusedTokenSaysWhereTheCredentialsCameFrom() {
    gcs.put("models", "org/m/model.bin", WEIGHTS);
    gcs.requireBearer(true);

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining(
            "m - list gs://models/org/m of gs://models/org/m: HTTP 401 (Invalid Credentials); the"
                + " token of none (STORAGE_EMULATOR_HOST) was refused");
  }

  private static String hex(String base64) {
    return HexFormat.of().formatHex(Base64.getDecoder().decode(base64));
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
