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
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.hub.FakeHub;
import dev.modelcache.source.hub.FakeHub.Fault;
import dev.modelcache.source.hub.FakeHub.Recorded;
import dev.modelcache.store.BlobLock;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.PartFile;
import dev.modelcache.store.RangedPart;
import dev.modelcache.store.StoreException;
import dev.modelcache.store.Volume;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a crash, a hostile Hub or a full disk leaves on the download path, against the fake Hub: a
 * part left complete or stale never wedges the cache, a body longer than declared is cut off and
 * refused, a listing that escapes the model's folder is refused before any request, and a full
 * volume says how much is needed and leaves nothing empty behind.
 */
class ResumeFaultTest {
  private static final byte[] WEIGHTS = HubFetchTest.randomBytes(300_000, 1);
  private static final String WEIGHTS_SHA = HubFetchTest.sha256(WEIGHTS);
  private static final byte[] CONFIG = "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8);
  private static final String NAME = "  - name: m\n    source: hf://org/name\n";

  @TempDir Path tmp;
  private FakeHub hub;
  private Fetcher fetcher;
  private final List<Duration> sleeps = new ArrayList<>();
  private long rangedMinBytes = Fetcher.RANGED_MIN_BYTES;
  private Volume volume = Volume.system();

  @BeforeEach
  void startHub() throws Exception {
    hub = FakeHub.start();
    hub.repo("org/name")
        .file("model.safetensors", WEIGHTS, true)
        .file("config.json", CONFIG, false)
        .commit("main");
  }

  @AfterEach
  void stop() {
    if (fetcher != null) {
      fetcher.close();
    }
    hub.close();
  }

  private Config config() {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  hf:\n    endpoint: "
            + hub.endpoint()
            + "\nmodels:\n"
            + NAME;
    return new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
  }

  private InstalledSnapshot fetch() throws Exception {
    Config config = config();
    if (fetcher == null) {
      List<String> names = config.models().stream().map(ModelConfig::name).toList();
      fetcher =
          new Fetcher(
              new CacheStore(config.cache().dir(), volume),
              Map.of(
                  SourceRef.Scheme.HF,
                  new HuggingFaceSource(config.sources().hf(), new OkHttpClient())),
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
              rangedMinBytes);
    }
    return fetcher.fetch(config.models().get(0));
  }

  private Path parts() {
    return tmp.resolve("cache/.modelcache/parts/hub-models--org--name");
  }

  /** What a crash leaves of a one-stream download: the part holding {@code bytes}. */
  private void leavePart(byte[] bytes) throws IOException {
    CacheStore store = new CacheStore(tmp.resolve("cache"));
    ModelConfig model = config().models().get(0);
    try (BlobLock lock = store.lock(model, WEIGHTS_SHA, holder -> {});
        PartFile part = store.part(model, WEIGHTS_SHA, WEIGHTS.length, -1, lock)) {
      part.append(new ByteArrayInputStream(bytes), n -> {});
    }
    assertThat(parts().resolve(WEIGHTS_SHA + ".part")).hasSize(bytes.length);
  }

  /**
   * What an interrupted ranged download leaves: its 4 ranges of 75 000 bytes, each holding the
   * first {@code written[i]} bytes of {@code bytes}' range, and their saved progress.
   */
  private void leaveRangedPart(byte[] bytes, long... written) throws IOException {
    CacheStore store = new CacheStore(tmp.resolve("cache"));
    ModelConfig model = config().models().get(0);
    try (BlobLock lock = store.lock(model, WEIGHTS_SHA, holder -> {});
        RangedPart part = store.rangedPart(model, WEIGHTS_SHA, WEIGHTS.length, 4, false, lock)) {
      for (int i = 0; i < 4; i++) {
        int start = i * 75_000;
        part.regions()
            .get(i)
            .append(
                new ByteArrayInputStream(bytes, start, (int) written[i]), n -> {}); // as fetched
      }
    }
    assertThat(parts().resolve(WEIGHTS_SHA + ".ranged.state")).exists();
  }

  private List<String> weightGets() {
    return hub.requests().stream()
        .filter(r -> r.host().equals("cdn") && r.method().equals("GET"))
        .map(Recorded::path)
        .filter(p -> p.contains(WEIGHTS_SHA))
        .toList();
  }

  private void assertInstalledAndNoPartsLeft(InstalledSnapshot snapshot) throws IOException {
    assertThat(snapshot.dir().resolve("model.safetensors")).hasBinaryContent(WEIGHTS);
    assertThat(TestModels.filesUnder(parts())).isEmpty();
  }

  @Test
  void aCompletePartLeftByACrashIsInstalledWithoutAnotherRequest() throws Exception {
    leavePart(WEIGHTS);
    assertInstalledAndNoPartsLeft(fetch());
    assertThat(weightGets()).isEmpty();
  }

  @Test
  void aCompletePartWithWrongBytesIsDroppedAndTheFileFetchedAgain() throws Exception {
    byte[] wrong = WEIGHTS.clone();
    wrong[wrong.length / 2] ^= 1;
    leavePart(wrong);
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      assertInstalledAndNoPartsLeft(fetch());
      assertThat(log.lines())
          .contains(
              "INFO m - model.safetensors: resuming from byte 300000 left by an earlier"
                  + " attempt (complete: checking it)")
          .filteredOn(line -> line.startsWith("WARN"))
          .singleElement()
          .asString()
          .startsWith(
              "WARN m - model.safetensors: the bytes kept from an earlier attempt do not match its"
                  + " digest (m - model.safetensors: sha256 mismatch: expected "
                  + WEIGHTS_SHA);
    }
    assertThat(weightGets()).hasSize(1);
  }

  @Test
  void a416OnAResumeDropsThePartAndStartsTheFileOver() throws Exception {
    leavePart(Arrays.copyOf(WEIGHTS, 100_000));
    hub.fault(Fault.status(WEIGHTS_SHA, 416, null));
    try (LogCapture log = new LogCapture(Fetcher.class)) {
      assertInstalledAndNoPartsLeft(fetch());
      assertThat(log.lines())
          .filteredOn(line -> line.startsWith("WARN"))
          .containsExactly(
              "WARN m - model.safetensors: the source refused to resume it (HTTP 416): the bytes"
                  + " kept from an earlier attempt were dropped; fetching the file again from its"
                  + " start");
    }
    assertThat(weightGets()).hasSize(2);
    assertThat(sleeps).isEmpty(); // not a retry: a check of what was kept
  }

  @Test
  void aRangedFileWhoseRangesAreAllCompleteIsInstalledWithoutAnotherRequest() throws Exception {
    rangedMinBytes = 64 * 1024;
    leaveRangedPart(WEIGHTS, 75_000, 75_000, 75_000, 75_000);
    assertInstalledAndNoPartsLeft(fetch());
    assertThat(weightGets()).isEmpty();
  }

  @Test
  void aRangedFileWithOneRangeCompleteFetchesOnlyTheRest() throws Exception {
    rangedMinBytes = 64 * 1024;
    leaveRangedPart(WEIGHTS, 75_000, 10_000, 0, 74_999);
    assertInstalledAndNoPartsLeft(fetch());
    List<String> ranges =
        hub.requests().stream()
            .filter(r -> r.host().equals("cdn") && r.method().equals("GET"))
            .map(r -> r.headers().get("range"))
            .toList();
    assertThat(ranges)
        .containsExactlyInAnyOrder(
            "bytes=85000-149999", "bytes=150000-224999", "bytes=299999-299999");
  }

  @Test
  void aCorruptRangeStateStartsTheFileOver() throws Exception {
    rangedMinBytes = 64 * 1024;
    leaveRangedPart(WEIGHTS, 75_000, 75_000, 75_000, 75_000);
    Path state = parts().resolve(WEIGHTS_SHA + ".ranged.state");
    Files.writeString(state, "size 300000\n0 75000 x\nzz\n\n\n");
    assertInstalledAndNoPartsLeft(fetch());
    assertThat(weightGets()).hasSize(4);
  }

  @Test
  void aRangeStateThatClaimsBytesTheDiskLacksFallsBackToWhatWasFsynced() throws Exception {
    rangedMinBytes = 64 * 1024;
    leaveRangedPart(WEIGHTS, 75_000, 75_000, 75_000, 75_000);
    // a power loss: the last range's state was saved (without an fsync) up to its end, only its
    // first 50 000 bytes had been fsynced, and its last 10 000 bytes never reached the disk
    Path state = parts().resolve(WEIGHTS_SHA + ".ranged.state");
    List<String> lines = new ArrayList<>(Files.readAllLines(state));
    assertThat(lines.get(4)).startsWith("225000 300000 75000 ").endsWith(" 75000");
    lines.set(4, lines.get(4).replaceAll(" 75000$", " 50000"));
    Files.write(state, lines);
    Path part = parts().resolve(WEIGHTS_SHA + ".ranged");
    byte[] onDisk = Files.readAllBytes(part);
    Arrays.fill(onDisk, 290_000, onDisk.length, (byte) 0);
    Files.write(part, onDisk);
    assertInstalledAndNoPartsLeft(fetch());
    assertThat(
            hub.requests().stream()
                .filter(r -> r.host().equals("cdn") && r.method().equals("GET"))
                .map(r -> r.headers().get("range")))
        .containsExactly("bytes=275000-299999");
  }

  @Test
  void aBodyLongerThanListedIsCutOffAndRefused() {
    hub.fault(Fault.overlong(WEIGHTS_SHA, 10));
    assertThatThrownBy(this::fetch)
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "m - model.safetensors: the source sent more bytes than expected for the file"
                + " (expected 300000, received 300010); it was cut off at the expected size and"
                + " dropped: the source is misbehaving or the file changed since it was listed;"
                + " fetch again, and if it persists report it upstream");
    assertThat(TestModels.filesUnder(tmp.resolve("cache/hub"))).isEmpty();
    assertThat(TestModels.filesUnder(parts())).isEmpty();
    assertThat(sleeps).isEmpty();
  }

  @Test
  void aRangeLongerThanAskedIsCutOffAndRefused() {
    rangedMinBytes = 64 * 1024;
    hub.fault(Fault.overlong(WEIGHTS_SHA, 10));
    assertThatThrownBy(this::fetch)
        .isInstanceOf(SourceException.class)
        .hasMessageMatching(
            "m - model\\.safetensors: the source sent more bytes than expected for bytes"
                + " (0-74999|75000-149999|150000-224999|225000-299999) of the file \\(expected"
                + " 75000, received 75010; the file is 300000 bytes as listed\\); it was cut off at"
                + " the expected size and dropped: .*");
    assertThat(TestModels.filesUnder(tmp.resolve("cache/hub"))).isEmpty();
    assertThat(TestModels.filesUnder(parts())).isEmpty();
  }

  @Test
  void aListingThatLeavesTheModelFolderIsRefusedBeforeAnyFileRequest() throws Exception {
    for (String path : List.of("../escape.bin", "/etc/escape.bin", "sub/../../escape.bin")) {
      hub.repo("org/name").hostileFile(path, CONFIG).commit("main");
      hub.clearRequests();
      assertThatThrownBy(this::fetch)
          .isInstanceOf(SourceException.class)
          .hasMessageStartingWith("m - refusing the Hub's file list of org/name at ")
          .hasMessageEndingWith(
              ": file path '"
                  + path
                  + "' is absolute or has '..', '.' or empty segments or control characters, and"
                  + " could escape the model's folder; nothing was downloaded: report it to the"
                  + " repository's owner or the Hub's operator");
      assertThat(hub.requests())
          .noneMatch(r -> r.path().contains("/resolve") || r.host().equals("cdn"));
      hub.repo("org/name").delete(path);
    }
    assertThat(tmp.resolve("escape.bin")).doesNotExist();
    assertThat(TestModels.filesUnder(tmp.resolve("cache"))).isEmpty();
  }

  @Test
  void aFullDiskSaysHowMuchIsNeededLeavesNoEmptyPartAndTheNextFetchWorks() throws Exception {
    fullDisk(".part");
  }

  @Test
  void aFullDiskDuringARangedDownloadLeavesNoEmptyPartOrStateAndTheNextFetchWorks()
      throws Exception {
    rangedMinBytes = 64 * 1024;
    fullDisk(".ranged");
  }

  private void fullDisk(String partSuffix) throws Exception {
    Path full = Path.of("/dev/full");
    Assumptions.assumeTrue(Files.isWritable(full), "/dev/full (ENOSPC on every write) is missing");
    volume =
        new Volume() {
          @Override
          public long usableBytes(Path dir) {
            return 400_000; // enough at the start; the writes then find the volume full
          }

          @Override
          public boolean writable(Path dir) {
            return true;
          }
        };
    // every write into this part fails as on a full volume: the real ENOSPC, no root needed
    Files.createDirectories(parts());
    Files.createSymbolicLink(parts().resolve(WEIGHTS_SHA + partSuffix), full);
    assertThatThrownBy(this::fetch)
        .isInstanceOf(StoreException.class)
        .hasMessage(
            "m - model.safetensors: the cache volume is full (No space left on device): 300000"
                + " bytes (293.0 KiB) of it still to write, 400000 bytes (390.6 KiB) free at "
                + tmp.resolve("cache")
                + "; free space (modelcache gc --delete) or grow the volume, then fetch again:"
                + " what was written is kept and the download resumes");
    try (Stream<Path> files = Files.walk(tmp.resolve("cache/.modelcache"))) {
      assertThat(
              files.filter(
                  f -> {
                    try {
                      return !Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)
                          && (Files.isSymbolicLink(f) || Files.size(f) == 0)
                          && !f.toString().contains("/locks/");
                    } catch (IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    }
                  }))
          .as("empty or dangling state files")
          .isEmpty();
    }
    assertInstalledAndNoPartsLeft(fetch());
  }
}
