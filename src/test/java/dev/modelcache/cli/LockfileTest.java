package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.source.hub.FakeHub;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code modelcache lock}, {@code fetch --frozen}, and a lockfile holding a moved branch to its
 * bytes.
 */
class LockfileTest {
  private static final byte[] WEIGHTS = random(50_000, 1);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);

  @TempDir Path tmp;
  private FakeHub hub;
  private String first;
  private Path config;

  @BeforeEach
  void start() throws Exception {
    hub = FakeHub.start();
    first =
        hub.repo("org/m")
            .file("w.bin", WEIGHTS, true)
            .file("config.json", CONFIG, false)
            .commit("main");
    config = writeConfig("");
  }

  private Path writeConfig(String extra) throws Exception {
    Path file = tmp.resolve("modelcache.yaml");
    Files.writeString(
        file,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nmodels:\n  - name: m\n    source: hf://org/m\n"
            + extra);
    return file;
  }

  @AfterEach
  void stop() {
    hub.close();
  }

  @Test
  void lockRecordsTheCommitAndEveryFilesSizeAndSha256() throws Exception {
    CliRun lock = CliRun.of("lock", "-c", config.toString());
    assertThat(lock.code()).as(lock.err()).isZero();
    assertThat(lock.out())
        .contains("locked m: hf://org/m at " + first + ", 2 files")
        .contains("wrote " + tmp.resolve("modelcache.lock"));
    String text = Files.readString(tmp.resolve("modelcache.lock"));
    assertThat(text).endsWith("}\n");
    JsonNode m = new ObjectMapper().readTree(text).get("models").get("m");
    assertThat(m.get("source").asText()).isEqualTo("hf://org/m");
    assertThat(m.get("revision").asText()).isEqualTo(first);
    assertThat(m.get("files").toString())
        .isEqualTo(
            "[{\"path\":\"config.json\",\"size\":"
                + CONFIG.length
                + ",\"sha256\":\""
                + sha256(CONFIG)
                + "\"},{\"path\":\"w.bin\",\"size\":"
                + WEIGHTS.length
                + ",\"sha256\":\""
                + sha256(WEIGHTS)
                + "\"}]");
  }

  @Test
  void aMovedBranchFailsAPlainFetchButFrozenFetchesTheLockedCommit() throws Exception {
    assertThat(CliRun.of("lock", "-c", config.toString()).code()).isZero();
    byte[] changed = random(40_000, 2);
    hub.repo("org/m").file("w.bin", changed, true).commit("main");
    hub.clearRequests();

    CliRun plain = CliRun.of("fetch", "-c", config.toString());
    assertThat(plain.code()).isEqualTo(1);
    assertThat(plain.err())
        .startsWith(
            "FAILED m: m - w.bin: sha256 mismatch: expected "
                + sha256(WEIGHTS)
                + " (pinned in modelcache.lock), actual "
                + sha256(changed)
                + " (the source's digest)");
    assertThat(hub.requests()).noneMatch(r -> r.host().equals("cdn"));

    CliRun frozen = CliRun.of("fetch", "--frozen", "-c", config.toString());
    assertThat(frozen.code()).as(frozen.err()).isZero();
    assertThat(frozen.out()).contains("snapshot " + first);
    assertThat(tmp.resolve("cache/hub/models--org--m/snapshots/" + first + "/w.bin"))
        .hasBinaryContent(WEIGHTS);
    assertThat(Files.readString(tmp.resolve("cache/hub/models--org--m/refs/main")))
        .isEqualTo(first);

    assertThat(CliRun.of("lock", "-c", config.toString()).code()).isZero();
    assertThat(CliRun.of("fetch", "-c", config.toString()).code()).isZero();
  }

  @Test
  void frozenNamesEveryDifferenceFromTheLockfile() throws Exception {
    assertThat(CliRun.of("lock", "-c", config.toString()).code()).isZero();
    Path lock = tmp.resolve("modelcache.lock");
    Files.writeString(
        lock,
        Files.readString(lock)
            .replace("\"config.json\"", "\"gone.json\"")
            .replace("\"size\" : " + WEIGHTS.length, "\"size\" : 7"));
    CliRun frozen = CliRun.of("fetch", "--frozen", "-c", config.toString());
    assertThat(frozen.code()).isEqualTo(1);
    assertThat(frozen.err())
        .isEqualTo(
            "FAILED m: m - upstream no longer matches modelcache.lock (--frozen):"
                + " gone.json: in modelcache.lock, no longer upstream; w.bin: 7 bytes in modelcache.lock, "
                + WEIGHTS.length
                + " upstream; config.json: upstream, not in modelcache.lock; run 'modelcache lock' to"
                + " accept the new state\n");
  }

  @Test
  void frozenRefusesAModelTheLockfileLacksOrWhoseSourceChanged() throws Exception {
    CliRun none = CliRun.of("fetch", "--frozen", "-c", config.toString());
    assertThat(none.code()).isEqualTo(1);
    assertThat(none.err()).contains("m - not in modelcache.lock; run 'modelcache lock' first");
    assertThat(CliRun.of("lock", "-c", config.toString()).code()).isZero();
    Files.writeString(config, Files.readString(config).replace("hf://org/m", "hf://org/m@v2"));
    CliRun moved = CliRun.of("fetch", "--frozen", "-c", config.toString());
    assertThat(moved.err())
        .contains(
            "m - the source changed since modelcache.lock was written (locked: hf://org/m,"
                + " config: hf://org/m@v2); run 'modelcache lock'");
  }

  @Test
  void offlineServingChecksTheCacheAgainstTheLockfile() throws Exception {
    assertThat(CliRun.of("lock", "-c", config.toString()).code()).isZero();
    Path lock = tmp.resolve("modelcache.lock");
    String other = "0".repeat(64);
    Files.writeString(lock, Files.readString(lock).replace(sha256(CONFIG), other));
    Files.writeString(
        config, Files.readString(config).replace("cache:\n", "cache:\n  offline: true\n"));
    CliRun offline = CliRun.of("fetch", "-c", config.toString());
    assertThat(offline.code()).isEqualTo(1);
    assertThat(offline.err())
        .contains(
            "m - the cache does not match modelcache.lock: config.json: sha256 "
                + sha256(CONFIG)
                + " in the cache, "
                + other
                + " in modelcache.lock");
  }

  @Test
  void aBrokenLockfileStopsTheCommandNamingIt() throws Exception {
    Files.writeString(tmp.resolve("modelcache.lock"), "{ not json");
    CliRun fetch = CliRun.of("fetch", "-c", config.toString());
    assertThat(fetch.code()).isEqualTo(2);
    assertThat(fetch.err())
        .startsWith(
            "modelcache: " + tmp.resolve("modelcache.lock") + " is not a valid modelcache.lock");
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  private static byte[] random(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
