package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.FileSource;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Fault;
import dev.modelcache.source.hub.FakeHub.Recorded;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.StoreException;
import dev.modelcache.store.Verifier;
import dev.modelcache.store.Volume;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
import java.util.Random;
import java.util.Set;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Hub source and the fetcher against a faithful fake Hub on loopback. */
class HubFetchTest {
  private static final String CONFIG = "{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}}\n";
  private static final byte[] WEIGHTS = randomBytes(300_000, 1);

  @TempDir Path tmp;
  private FakeHub hub;
  private String commit;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<Duration> sleeps = new ArrayList<>();
  private Fetcher fetcher;
  private long rangedMinBytes = Fetcher.RANGED_MIN_BYTES;
  private Volume volume = Volume.system();

  @BeforeEach
  void startHub() throws Exception {
    hub = FakeHub.start();
    commit =
        hub.repo("org/name")
            .file("model.safetensors", WEIGHTS, true)
            .file("config.json", CONFIG.getBytes(StandardCharsets.UTF_8), false)
            .file("sub/notes.txt", "notes\n".getBytes(StandardCharsets.UTF_8), false)
            .commit("main", "v1");
  }

  @AfterEach
  void stop() {
    if (fetcher != null) {
      fetcher.close();
    }
    hub.close();
  }

  private Config config(String modelsYaml, Map<String, String> env) {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nmodels:\n"
            + modelsYaml;
    return new ConfigLoader(env, tmp).parse(yaml, "test config", tmp);
  }

  private ModelConfig model(String modelYaml) {
    return config(modelYaml, Map.of()).models().get(0);
  }

  private Fetcher fetcher(Config config) {
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    Backoff backoff =
        new Backoff(
            4, Duration.ofMillis(100), Duration.ofSeconds(2), Duration.ofSeconds(30), () -> 1.0);
    fetcher =
        new Fetcher(
            new CacheStore(config.cache().dir(), volume),
            Map.of(
                SourceRef.Scheme.FILE,
                new FileSource(),
                SourceRef.Scheme.HF,
                new HuggingFaceSource(config.sources().hf(), new OkHttpClient())),
            new ModelStates(names, Set.copyOf(names), Clock.systemUTC()),
            new Metrics(registry),
            Clock.systemUTC(),
            config.cache().offline(),
            backoff,
            sleeps::add,
            rangedMinBytes);
    return fetcher;
  }

  private InstalledSnapshot fetch(String modelYaml) throws Exception {
    Config config = config(modelYaml, Map.of());
    return fetcher(config).fetch(config.models().get(0));
  }

  private static final String NAME = "  - name: m\n    source: hf://org/name\n";

  @Test
  void writesExactlyTheHuggingFaceCacheLayout() throws Exception {
    InstalledSnapshot snapshot = fetch(NAME);
    Path repo = tmp.resolve("cache/hub/models--org--name");
    assertThat(snapshot.id()).isEqualTo(commit);
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(commit);
    assertThat(repo.resolve("blobs/" + sha256(WEIGHTS))).hasBinaryContent(WEIGHTS);
    String configBlob = gitSha1(CONFIG.getBytes(StandardCharsets.UTF_8));
    assertThat(repo.resolve("blobs/" + configBlob)).hasContent(CONFIG.strip());
    assertThat(
            Files.readSymbolicLink(repo.resolve("snapshots/" + commit + "/model.safetensors"))
                .toString())
        .isEqualTo("../../blobs/" + sha256(WEIGHTS));
    assertThat(
            Files.readSymbolicLink(repo.resolve("snapshots/" + commit + "/sub/notes.txt"))
                .toString())
        .isEqualTo("../../../blobs/" + gitSha1("notes\n".getBytes(StandardCharsets.UTF_8)));
    assertThat(TestModels.filesUnder(repo))
        .containsExactlyInAnyOrder(
            "blobs/" + sha256(WEIGHTS),
            "blobs/" + configBlob,
            "blobs/" + gitSha1("notes\n".getBytes(StandardCharsets.UTF_8)),
            "refs/main",
            "trees/" + commit + ".json");
    // the SHA-256 of plain git files is recorded too
    assertThat(snapshot.files())
        .extracting(f -> f.path() + "=" + f.sha256())
        .containsExactly(
            "config.json=" + sha256(CONFIG.getBytes(StandardCharsets.UTF_8)),
            "model.safetensors=" + sha256(WEIGHTS),
            "sub/notes.txt=" + sha256("notes\n".getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void writesTheCommitsWholeTreeListingAsHuggingfaceHubCachesIt() throws Exception {
    hub.repo("org/name").xet(true);
    fetch(NAME + "    include: [\"*.json\"]\n");

    Path file = tmp.resolve("cache/hub/models--org--name/trees/" + commit + ".json");
    com.fasterxml.jackson.databind.JsonNode tree =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
    assertThat(tree.path("format_version").asInt()).isEqualTo(1);
    // every file of the commit, not only those the config includes
    assertThat(tree.path("files").toString())
        .isEqualTo(
            "{\"config.json\":{\"size\":"
                + CONFIG.length()
                + ",\"blob_id\":\""
                + gitSha1(CONFIG.getBytes(StandardCharsets.UTF_8))
                + "\"},\"model.safetensors\":{\"size\":"
                + WEIGHTS.length
                + ",\"blob_id\":\""
                + gitSha1(lfsPointer(WEIGHTS))
                + "\",\"lfs_sha256\":\""
                + sha256(WEIGHTS)
                + "\",\"lfs_size\":"
                + WEIGHTS.length
                + ",\"xet_hash\":\""
                + FakeHub.xetHash(sha256(WEIGHTS))
                + "\"},\"sub/notes.txt\":{\"size\":6,\"blob_id\":\""
                + gitSha1("notes\n".getBytes(StandardCharsets.UTF_8))
                + "\"}}");
  }

  private static byte[] lfsPointer(byte[] content) throws Exception {
    return ("version https://git-lfs.github.com/spec/v1\noid sha256:"
            + sha256(content)
            + "\nsize "
            + content.length
            + "\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void everyRequestNamesModelcacheAndItsVersion() throws Exception {
    fetch(NAME);
    String version =
        java.util.Objects.requireNonNullElse(
            HuggingFaceSource.class.getPackage().getImplementationVersion(), "dev");
    assertThat(hub.requests())
        .isNotEmpty()
        .allSatisfy(
            r ->
                assertThat(r.headers().get("user-agent"))
                    .as("%s %s", r.method(), r.path())
                    .isEqualTo(
                        "modelcache/" + version + "; java/" + System.getProperty("java.version")));
  }

  @Test
  void aSecondFetchDownloadsNothing() throws Exception {
    fetch(NAME);
    hub.clearRequests();
    InstalledSnapshot again = fetch(NAME);
    assertThat(again.id()).isEqualTo(commit);
    assertThat(hub.requests())
        .noneMatch(
            r ->
                r.method().equals("GET")
                    && (r.host().equals("cdn") || r.path().contains("/resolve")));
  }

  @Test
  void followsTreePaginationAndAppliesIncludeExclude() throws Exception {
    hub.pageSize(2);
    InstalledSnapshot snapshot =
        fetch(NAME + "    include: ['*.json', 'sub/']\n    exclude: ['*.txt']\n");
    assertThat(snapshot.files())
        .extracting(InstalledSnapshot.InstalledFile::path)
        .containsExactly("config.json");
    assertThat(hub.requests().stream().filter(r -> r.path().contains("/tree/")).count())
        .isEqualTo(2);
  }

  @Test
  void resolvesTagsPullRequestsAndCommitsAndWritesTheirRefs() throws Exception {
    String pr =
        hub.repo("org/name").file("extra.bin", new byte[] {1, 2, 3}, true).commit("refs/pr/1");
    InstalledSnapshot fromPr = fetch("  - name: m\n    source: hf://org/name@refs/pr/1\n");
    assertThat(fromPr.id()).isEqualTo(pr);
    Path repo = tmp.resolve("cache/hub/models--org--name");
    assertThat(Files.readString(repo.resolve("refs/refs/pr/1"))).isEqualTo(pr);
    assertThat(fetch("  - name: m\n    source: hf://org/name@v1\n").id()).isEqualTo(commit);
    assertThat(Files.readString(repo.resolve("refs/v1"))).isEqualTo(commit);
    assertThat(fetch("  - name: m\n    source: hf://org/name@" + commit + "\n").id())
        .isEqualTo(commit);
    assertThat(repo.resolve("refs/" + commit)).doesNotExist();
  }

  @Test
  void theTokenGoesToTheEndpointOnlyAndNeverIntoMessages() throws Exception {
    hub.requireToken("hf_secret_token");
    Config config = config(NAME, Map.of("HF_TOKEN", "hf_secret_token"));
    fetcher(config).fetch(config.models().get(0));
    List<Recorded> cdn = hub.requests().stream().filter(r -> r.host().equals("cdn")).toList();
    assertThat(cdn)
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.headers()).doesNotContainKey("authorization"));
    assertThat(hub.requests().stream().filter(r -> r.host().equals("api")))
        .allSatisfy(
            r -> assertThat(r.headers()).containsEntry("authorization", "Bearer hf_secret_token"));
    assertThat(String.join("\n", config.describe())).doesNotContain("hf_secret_token");

    Config wrong =
        config("  - name: m\n    source: hf://org/nope\n", Map.of("HF_TOKEN", "hf_wrong_token"));
    assertThatThrownBy(() -> fetcher(wrong).fetch(wrong.models().get(0)))
        .hasMessageNotContaining("hf_wrong_token");
  }

  @Test
  void withoutTheTokenA401SaysToSetHfToken() {
    hub.requireToken("hf_secret_token");
    assertThatThrownBy(() -> fetch(NAME))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining("m - ")
        .hasMessageContaining("set HF_TOKEN");
  }

  @Test
  void unknownRepoAndRevisionSayWhatToCheck() {
    assertThatThrownBy(() -> fetch("  - name: m\n    source: hf://org/nope\n"))
        .hasMessage(
            "m - repository org/nope not found on "
                + hub.endpoint()
                + " (HTTP 401): check the name in"
                + " hf://org/nope; if it is private, set HF_TOKEN to a token that can read it");
    assertThatThrownBy(() -> fetch("  - name: m\n    source: hf://org/name@nobranch\n"))
        .hasMessage(
            "m - revision 'nobranch' not found in org/name: check the branch, tag or commit after '@' in"
                + " hf://org/name@nobranch");
  }

  @Test
  void aFileGoneSinceTheListingSaysSo() {
    ModelConfig model = model(NAME);
    HuggingFaceSource source =
        new HuggingFaceSource(config(NAME, Map.of()).sources().hf(), new OkHttpClient());
    dev.modelcache.source.SourceFile gone =
        new dev.modelcache.source.SourceFile("gone.bin", 10, null, "ab".repeat(20));
    assertThatThrownBy(
            () ->
                source.open(
                    model, new dev.modelcache.source.Snapshot(commit, List.of()), gone, 0, 10))
        .isInstanceOf(SourceException.class)
        .hasMessage("m - gone.bin: no such file in org/name (HTTP 404)");
  }

  @Test
  void aGatedRepoSaysToAcceptItsConditions() {
    hub.repo("org/gated").file("a.bin", new byte[] {1}, true).commit();
    hub.repo("org/gated").gated(true);
    assertThatThrownBy(() -> fetch("  - name: m\n    source: hf://org/gated\n"))
        .hasMessageStartingWith(
            "m - org/gated is gated: accept its conditions on " + hub.endpoint())
        .hasMessageContaining("set HF_TOKEN");
  }

  @Test
  void resumesACutTransferWithRangeWithoutDownloadingTwice() throws Exception {
    hub.fault(Fault.cut("/lfs/", 100_000));
    InstalledSnapshot snapshot = fetch(NAME);
    assertThat(snapshot.dir().resolve("model.safetensors")).hasBinaryContent(WEIGHTS);
    assertThat(hub.requests())
        .anyMatch(
            r -> r.host().equals("cdn") && "bytes=100000-299999".equals(r.headers().get("range")));
    double fetched = registry.get(Metrics.FETCH_BYTES).counter().count();
    assertThat(fetched).isEqualTo(WEIGHTS.length + CONFIG.length() + "notes\n".length());
    assertThat(sleeps).hasSize(1);
  }

  @Test
  void honoursRetryAfterOn429AndBacksOffOn5xx() throws Exception {
    hub.fault(Fault.status("/revision/", 429, "7"))
        .fault(Fault.status("/tree/", 503, null))
        .fault(Fault.status("/lfs/", 500, null));
    assertThat(fetch(NAME).id()).isEqualTo(commit);
    // the listing (revision + tree) is retried as one unit: its second retry backs off twice as
    // long
    assertThat(sleeps)
        .containsExactly(Duration.ofSeconds(7), Duration.ofMillis(200), Duration.ofMillis(100));
    assertThat(registry.get(Metrics.FETCH_RETRIES).counters()).isNotEmpty();
  }

  @Test
  void givesUpAfterBoundedRetriesNamingTheCause() {
    for (int i = 0; i < 4; i++) {
      hub.fault(Fault.status("/revision/", 503, null));
    }
    assertThatThrownBy(() -> fetch(NAME))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining("the Hub answered HTTP 503 for revision main")
        .hasMessageEndingWith("(gave up after 4 attempts)");
    assertThat(sleeps)
        .containsExactly(Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(400));
  }

  @Test
  void wrongBytesOfTheRightSizeAreNeverInstalled() {
    hub.fault(Fault.wrongBytes("/lfs/"));
    assertThatThrownBy(() -> fetch(NAME))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "m - model.safetensors: sha256 mismatch: expected "
                + sha256(WEIGHTS)
                + " (the source's digest), actual ")
        .hasMessageContaining("the file was not installed");
    Path repo = tmp.resolve("cache/hub/models--org--name");
    assertThat(TestModels.filesUnder(repo)).isEmpty();
    assertThat(TestModels.filesUnder(tmp.resolve("cache/.modelcache/tmp"))).isEmpty();
  }

  @Test
  void aPinThatDisagreesWithTheHubFailsBeforeDownloading() {
    String pin = "ab".repeat(32);
    assertThatThrownBy(() -> fetch(NAME + "    sha256: {model.safetensors: '" + pin + "'}\n"))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "m - model.safetensors: sha256 mismatch: expected "
                + pin
                + " (pinned in the"
                + " config), actual "
                + sha256(WEIGHTS)
                + " (the source's digest)");
    assertThat(hub.requests()).noneMatch(r -> r.host().equals("cdn"));
  }

  @Test
  void aMovedBranchBringsANewSnapshotUnlessPinned() throws Exception {
    fetch(NAME + "    sha256: {model.safetensors: " + sha256(WEIGHTS) + "}\n");
    byte[] changed = randomBytes(1000, 2);
    String second = hub.repo("org/name").file("model.safetensors", changed, true).commit("main");
    assertThatThrownBy(
            () -> fetch(NAME + "    sha256: {model.safetensors: " + sha256(WEIGHTS) + "}\n"))
        .isInstanceOf(ChecksumMismatchException.class);
    InstalledSnapshot moved = fetch(NAME);
    assertThat(moved.id()).isEqualTo(second);
    assertThat(moved.dir().resolve("model.safetensors")).hasBinaryContent(changed);
    assertThat(Files.readString(tmp.resolve("cache/hub/models--org--name/refs/main")))
        .isEqualTo(second);
  }

  @Test
  void datasetsUseTheirOwnRoutesAndFolder() throws Exception {
    String data =
        hub.repo("dataset", "org/data")
            .file("train.csv", "a,b\n".getBytes(StandardCharsets.UTF_8), false)
            .commit("main");
    InstalledSnapshot snapshot =
        fetch("  - name: d\n    source: hf://org/data\n    repo_type: dataset\n");
    assertThat(snapshot.id()).isEqualTo(data);
    assertThat(tmp.resolve("cache/hub/datasets--org--data/snapshots/" + data + "/train.csv"))
        .hasContent("a,b");
  }

  @Test
  void offlineServesWhatIsCachedAndNamesWhatIsMissing() throws Exception {
    fetch(NAME);
    hub.clearRequests();
    Config offline =
        config(
            NAME + "  - name: other\n    source: hf://org/other\n", Map.of("HF_HUB_OFFLINE", "1"));
    Fetcher fetcher = fetcher(offline);
    assertThat(fetcher.fetch(offline.models().get(0)).id()).isEqualTo(commit);
    assertThatThrownBy(() -> fetcher.fetch(offline.models().get(1)))
        .hasMessageStartingWith(
            "other - offline (cache.offline, MODELCACHE_OFFLINE or HF_HUB_OFFLINE) and not in the"
                + " cache at "
                + tmp.resolve("cache/hub/models--org--other"));
    assertThat(hub.requests()).isEmpty();
  }

  @Test
  void aLargeFileComesInParallelRangesResumedOneByOne() throws Exception {
    rangedMinBytes = 64 * 1024; // the 300 KB weights become 4 ranges of 75 KB
    hub.fault(Fault.cut("/lfs/", 30_000));
    InstalledSnapshot snapshot = fetch(NAME);
    assertThat(snapshot.dir().resolve("model.safetensors")).hasBinaryContent(WEIGHTS);
    List<String> ranges =
        hub.requests().stream()
            .filter(r -> r.host().equals("cdn") && r.method().equals("GET"))
            .map(r -> r.headers().get("range"))
            .toList();
    assertThat(ranges)
        .contains(
            "bytes=0-74999", "bytes=75000-149999", "bytes=150000-224999", "bytes=225000-299999");
    // the cut range resumed from where it stopped, to its own end
    assertThat(ranges)
        .anyMatch(r -> r.matches("bytes=(30000-74999|105000-149999|180000-224999|255000-299999)"));
    assertThat(registry.get(Metrics.FETCH_BYTES).counter().count())
        .isEqualTo(WEIGHTS.length + CONFIG.length() + "notes\n".length());
    assertThat(TestModels.filesUnder(tmp.resolve("cache/.modelcache/tmp"))).isEmpty();
  }

  @Test
  void wrongBytesInARangedDownloadAreNeverInstalled() {
    rangedMinBytes = 64 * 1024;
    hub.fault(Fault.wrongBytes("/lfs/"));
    assertThatThrownBy(() -> fetch(NAME))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "m - model.safetensors: sha256 mismatch: expected " + sha256(WEIGHTS));
    assertThat(TestModels.filesUnder(tmp.resolve("cache/hub"))).isEmpty();
    assertThat(TestModels.filesUnder(tmp.resolve("cache/.modelcache/tmp"))).isEmpty();
  }

  @Test
  void aRangeThatFailsForGoodStopsTheOthersAndLeavesNothing() {
    rangedMinBytes = 64 * 1024;
    // 4 ranges of 4 attempts each absorb at most 12 failures: the 13th makes one range give up
    for (int i = 0; i < 16; i++) {
      hub.fault(Fault.status("/lfs/", 500, null));
    }
    assertThatThrownBy(() -> fetch(NAME))
        .isInstanceOf(SourceException.class)
        .hasMessageContaining("gave up after 4 attempts without progress");
    assertThat(TestModels.filesUnder(tmp.resolve("cache/hub"))).isEmpty();
    assertThat(TestModels.filesUnder(tmp.resolve("cache/.modelcache/tmp"))).isEmpty();
  }

  @Test
  void aFullDiskFailsBeforeDownloadingNamingBothNumbers() {
    long usable = 100_000;
    volume =
        new Volume() {
          @Override
          public long usableBytes(Path dir) {
            return usable;
          }

          @Override
          public boolean writable(Path dir) {
            return true;
          }
        };
    long needed = WEIGHTS.length + CONFIG.length() + "notes\n".length();
    assertThatThrownBy(() -> fetch(NAME))
        .isInstanceOf(StoreException.class)
        .hasMessage(
            "not enough space for the cache at "
                + tmp.resolve("cache")
                + ": "
                + needed
                + " bytes (0.3 MiB) still to fetch, 100000 bytes (0.1 MiB) usable on its volume;"
                + " free space (modelcache gc --delete) or grow the volume");
    assertThat(hub.requests())
        .noneMatch(
            r ->
                r.method().equals("GET")
                    && (r.host().equals("cdn") || r.path().contains("resolve")));
    assertThat(TestModels.filesUnder(tmp.resolve("cache"))).isEmpty();
  }

  @Test
  void aQuarantinedBlobIsFetchedAgainAndNothingElse() throws Exception {
    Config config = config(NAME, Map.of());
    ModelConfig model = config.models().get(0);
    fetcher(config).fetch(model);
    Path blob = tmp.resolve("cache/hub/models--org--name/blobs/" + sha256(WEIGHTS));
    TestModels.flipOneByte(blob);
    TestModels.shiftMtime(blob, 1);
    CacheStore store = new CacheStore(config.cache().dir());
    try (Verifier verifier = new Verifier(store, new Metrics(registry), Clock.systemUTC())) {
      assertThat(verifier.verify(List.of(model), VerifyMode.FAST).get(0).problems())
          .singleElement()
          .extracting(Verifier.Problem::kind)
          .isEqualTo(Verifier.Kind.CORRUPT);
      assertThat(blob).doesNotExist();
      hub.clearRequests();
      fetcher.fetch(model);
      assertThat(blob).hasBinaryContent(WEIGHTS);
      assertThat(
              hub.requests().stream()
                  .filter(r -> r.host().equals("cdn") && r.method().equals("GET"))
                  .map(Recorded::path))
          .singleElement()
          .asString()
          .contains("/lfs/");
      assertThat(verifier.verify(List.of(model), VerifyMode.FULL).get(0).problems()).isEmpty();
    }
    assertThat(registry.get(Metrics.VERIFY_FAILURES).tag("model", "m").counter().count())
        .isEqualTo(1);
  }

  static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String gitSha1(byte[] bytes) {
    try {
      MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
      sha1.update(("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(sha1.digest(bytes));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
