package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigException;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.GcsSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.s3.FaultProxy;
import dev.modelcache.source.s3.S3Server;
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
import java.util.zip.CRC32C;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code gs://} source and the fetcher through GCS's S3-compatible XML API: no GCS emulator is
 * reachable from this build's package registries, so the XML API is played by the S3 test server
 * (S3Proxy, signature v4 checked against the HMAC key, here the server's identity and secret)
 * behind a proxy that cuts or fails chosen requests. The requests are the ones GCS receives: path
 * style, signed for region {@code auto}.
 */
class GcsFetchTest {
  private static final byte[] WEIGHTS = randomBytes(300_000, 1);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);
  private static final Map<String, String> HMAC_ENV =
      Map.of("GCS_HMAC_ACCESS_ID", S3Server.IDENTITY, "GCS_HMAC_SECRET", S3Server.SECRET);
  private static final String MODEL = "  - name: m\n    source: gs://models/org/m\n";

  @TempDir Path tmp;
  private final OkHttpClient http = new OkHttpClient();
  private S3Server server;
  private FaultProxy proxy;
  private final List<Duration> sleeps = new ArrayList<>();
  private Fetcher fetcher;

  @BeforeEach
  void start() throws Exception {
    server = S3Server.start();
    proxy = FaultProxy.start(server.port());
    server.bucket("models");
  }

  @AfterEach
  void stop() throws Exception {
    if (fetcher != null) {
      fetcher.close();
    }
    proxy.close();
    server.close();
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  private Config config(Map<String, String> env, String modelYaml) {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  gcs:\n    endpoint: "
            + proxy.endpoint()
            + "\nmodels:\n"
            + modelYaml;
    return new ConfigLoader(env, tmp).parse(yaml, "test config", tmp);
  }

  private InstalledSnapshot fetch(Map<String, String> env, String modelYaml, long rangedMin)
      throws Exception {
    Config config = config(env, modelYaml);
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
    return fetch(HMAC_ENV, modelYaml, Fetcher.RANGED_MIN_BYTES);
  }

  @Test
  void fetchesTheIncludedFilesIntoTheGcsLayoutSignedForRegionAuto() throws Exception {
    server.put("models", "org/m/model.bin", WEIGHTS, false);
    server.put("models", "org/m/model.bin.sha256", sha256(WEIGHTS).getBytes(), false);
    server.put("models", "org/m/config.json", CONFIG, false);
    server.put("models", "org/m/notes.txt", CONFIG, false);
    server.put("models", "org/m/sub/extra.bin", CONFIG, false);
    server.put("models", "org/other/elsewhere.bin", WEIGHTS, false);

    InstalledSnapshot snapshot =
        fetch(
            MODEL
                + "    include: ['*.bin', '*.json']\n    exclude: ['sub/*']\n    sha256:\n"
                + "      config.json: "
                + sha256(CONFIG)
                + "\n");

    assertThat(snapshot.files())
        .extracting(f -> f.path() + " " + f.sha256())
        .containsExactly("config.json " + sha256(CONFIG), "model.bin " + sha256(WEIGHTS));
    Path repo = tmp.resolve("cache/gcs/models--org--m");
    assertThat(repo.resolve("blobs").resolve(sha256(WEIGHTS))).hasBinaryContent(WEIGHTS);
    assertThat(repo.resolve("snapshots").resolve(snapshot.id()).resolve("model.bin"))
        .hasBinaryContent(WEIGHTS);
    assertThat(proxy.requests())
        .contains("GET /models?list-type=2&prefix=org%2Fm%2F")
        .noneMatch(r -> r.contains("notes.txt") || r.contains("extra.bin"));
  }

  @Test
  void resumesARangedDownloadAfterACut() throws Exception {
    byte[] big = randomBytes(3_000_000, 7);
    server.put("models", "org/m/big.bin", big, false);
    proxy.fault(FaultProxy.cut("GET", "/models/org/m/big.bin", 200_000));

    InstalledSnapshot snapshot =
        fetch(HMAC_ENV, MODEL + "    sha256: {big.bin: " + sha256(big) + "}\n", 1_000_000);

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(big);
    List<Long> starts =
        proxy.requests().stream()
            .filter(r -> r.startsWith("GET /models/org/m/big.bin range="))
            .map(r -> Long.parseLong(r.substring(r.indexOf("bytes=") + 6, r.lastIndexOf('-'))))
            .toList();
    assertThat(starts)
        .as("one range resumed where the cut stopped")
        .anyMatch(s -> s % 750_000 != 0);
    assertThat(sleeps).isNotEmpty();
  }

  @Test
  void wrongBytesNeverInstallAndTheMessageNamesTheFileAndBothDigests() throws Exception {
    server.put("models", "org/m/model.bin", WEIGHTS, false);
    String wrong = sha256(CONFIG);
    server.put("models", "org/m/model.bin.sha256", wrong.getBytes(), false);

    assertThatThrownBy(() -> fetch(MODEL))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessage(
            "m - model.bin: sha256 mismatch: expected "
                + wrong
                + " (the sidecar object model.bin.sha256), actual "
                + sha256(WEIGHTS)
                + "; the file was not installed. The bytes were damaged in transit or by the server;"
                + " fetch again, and if it persists report it upstream");
    assertThat(tmp.resolve("cache/gcs/models--org--m/blobs")).doesNotExist();
  }

  @Test
  void withoutAnHmacKeyTheJsonApiNeedsApplicationDefaultCredentials() {
    Path missing = tmp.resolve("missing.json");
    assertThatThrownBy(
            () ->
                fetch(
                    Map.of("GOOGLE_APPLICATION_CREDENTIALS", missing.toString()),
                    MODEL,
                    Fetcher.RANGED_MIN_BYTES))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining(
            "m - gs://models/org/m: no usable application default credentials from"
                + " GOOGLE_APPLICATION_CREDENTIALS ("
                + missing
                + ")")
        .hasMessageContaining("or set an HMAC key (GCS_HMAC_ACCESS_ID, GCS_HMAC_SECRET)");
    assertThat(proxy.requests()).isEmpty();
  }

  @Test
  void aWrongXGoogHashCrc32cIsRefetchedThenRefusedNamingTheFileAndBothValues() throws Exception {
    server.put("models", "org/m/model.bin", WEIGHTS, false);
    CRC32C crc = new CRC32C();
    crc.update(WEIGHTS);
    String actual = String.format("%08x", crc.getValue());
    String actualBase64 =
        Base64.getEncoder()
            .encodeToString(java.nio.ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    proxy.fault(
        FaultProxy.header(
            "HEAD", "/models/org/m/model.bin", "x-goog-hash: crc32c=AAAAAA==,md5=" + md5(WEIGHTS)));

    assertThatThrownBy(() -> fetch(MODEL + "    sha256: {model.bin: " + sha256(WEIGHTS) + "}\n"))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - model.bin: CRC32C mismatch: the object's x-goog-hash header says 00000000"
                + " (AAAAAA==), the bytes have "
                + actual
                + " ("
                + actualBase64
                + "); damaged in transit: the bytes were dropped (gave up after 4 attempts)");
    assertThat(proxy.requests())
        .filteredOn(r -> r.startsWith("GET /models/org/m/model.bin"))
        .hasSize(4);
    assertThat(sleeps).hasSize(3);
    assertThat(tmp.resolve("cache/gcs/models--org--m/blobs")).doesNotExist();
  }

  @Test
  void aMatchingXGoogHashLetsTheFileIn() throws Exception {
    server.put("models", "org/m/model.bin", WEIGHTS, false);
    CRC32C crc = new CRC32C();
    crc.update(WEIGHTS);
    String crc32c =
        Base64.getEncoder()
            .encodeToString(java.nio.ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    proxy.fault(
        FaultProxy.header(
            "HEAD",
            "/models/org/m/model.bin",
            "x-goog-hash: crc32c=" + crc32c + ",md5=" + md5(WEIGHTS)));

    InstalledSnapshot snapshot =
        fetch(MODEL + "    sha256: {model.bin: " + sha256(WEIGHTS) + "}\n");

    assertThat(snapshot.files().get(0).blob()).hasBinaryContent(WEIGHTS);
    assertThat(sleeps).isEmpty();
  }

  private static String md5(byte[] bytes) throws Exception {
    return Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(bytes));
  }

  @Test
  void aRefusedKeyGetsCloudStorageAdviceWithoutTheSecret() {
    Map<String, String> env =
        Map.of("GCS_HMAC_ACCESS_ID", S3Server.IDENTITY, "GCS_HMAC_SECRET", "wrong-secret-x1");
    assertThatThrownBy(() -> fetch(env, MODEL, Fetcher.RANGED_MIN_BYTES))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining("m - listing gs://models/org/m: Cloud Storage refused the HMAC key")
        .hasMessageContaining("check GCS_HMAC_ACCESS_ID and GCS_HMAC_SECRET")
        .hasMessageNotContaining("wrong-secret-x1")
        .hasMessageNotContaining("AWS_");
  }

  @Test
  void halfAKeyAndABadSourceAreConfigErrors() {
    assertThatThrownBy(() -> config(Map.of("GCS_HMAC_ACCESS_ID", "GOOG1EXAMPLE"), MODEL))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("only the access id is set");
    assertThatThrownBy(() -> config(HMAC_ENV, "  - name: m\n    source: gs://b/../m\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'gs://b/../m' is not gs://{bucket}/{prefix}");
    Config config = config(HMAC_ENV, MODEL);
    assertThat(String.join("\n", config.describe()))
        .contains("sources.gcs.hmac_access_id=(set) sources.gcs.hmac_secret=****")
        .doesNotContain(S3Server.SECRET)
        .doesNotContain(S3Server.IDENTITY);
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
