package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.LogCapture;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.Metrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Stamp checks, re-hashing, quarantine and the read-only path of the verifier. */
class VerifierTest {
  private static final Instant NOW = Instant.parse("2025-06-01T10:15:00.123Z");
  // sha256("hello\n") and sha256("world\n")
  private static final String HELLO =
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  private static final String WORLD =
      "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317";

  @TempDir Path cache;
  @TempDir Path outside;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<Path> hashed = Collections.synchronizedList(new ArrayList<>());
  private final List<Verifier> verifiers = new ArrayList<>();
  private CacheStore store;
  private ModelConfig model;
  private Path hello;
  private Path world;

  @BeforeEach
  void install() throws Exception {
    store = new CacheStore(cache);
    model = model("m", "");
    store.install(
        model,
        CacheStore.snapshotId(Map.of("a.txt", HELLO, "b.txt", WORLD)),
        "main",
        List.of(stage("a.txt", "hello\n"), stage("b.txt", "world\n")));
    hello = cache.resolve("local/m/blobs/" + HELLO);
    world = cache.resolve("local/m/blobs/" + WORLD);
  }

  @AfterEach
  void close() {
    verifiers.forEach(Verifier::close);
  }

  private ModelConfig model(String name, String extraYaml) {
    return TestModels.config(
            cache, "  - name: " + name + "\n    source: file:/nowhere\n" + extraYaml)
        .models()
        .get(0);
  }

  private CacheStore.Entry stage(String path, String text) throws Exception {
    try (PartFile part = store.newPart(-1)) {
      part.append(
          new java.io.ByteArrayInputStream(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)),
          n -> {});
      StagedFile staged = part.finish();
      return new CacheStore.Entry(path, staged.sha256(), staged.size(), staged.sha256(), staged);
    }
  }

  private Verifier verifier(CacheStore on, int threads, Verifier.Hasher hasher) {
    Verifier verifier =
        new Verifier(on, new Metrics(registry), Clock.fixed(NOW, ZoneOffset.UTC), threads, hasher);
    verifiers.add(verifier);
    return verifier;
  }

  private Verifier verifier() {
    return verifier(
        store,
        2,
        file -> {
          hashed.add(file);
          return CacheStore.sha256Of(file);
        });
  }

  private Verifier.Report verify(VerifyMode mode) throws Exception {
    return verifier().verify(List.of(model), mode).get(0);
  }

  @Test
  void fastReadsNoByteWhenEveryStampMatchesAndFullReadsThemAll() throws Exception {
    Verifier.Report fast = verify(VerifyMode.FAST);
    assertThat(fast.problems()).isEmpty();
    assertThat(fast.hashed()).isZero();
    assertThat(hashed).isEmpty();

    Verifier.Report full = verify(VerifyMode.FULL);
    assertThat(full.problems()).isEmpty();
    assertThat(full.hashed()).isEqualTo(2);
    assertThat(hashed).containsExactlyInAnyOrder(hello, world);
  }

  @Test
  void aFileWhoseStampChangedIsReHashedAndItsNewStampRecorded() throws Exception {
    Files.setLastModifiedTime(world, FileTime.from(NOW)); // touched, same bytes
    Verifier.Report report = verify(VerifyMode.FAST);
    assertThat(report.problems()).isEmpty();
    assertThat(hashed).containsExactly(world);
    assertThat(store.installed(model).orElseThrow().files().get(1).stamp())
        .isEqualTo(FileStamp.of(world));

    hashed.clear();
    assertThat(verify(VerifyMode.FAST).hashed()).isZero();
    assertThat(hashed).isEmpty();
  }

  @Test
  void aCorruptedFileIsQuarantinedLoggedOnceAtWarnAndCounted() throws Exception {
    Files.writeString(hello, "jello\n");
    Files.setLastModifiedTime(hello, FileTime.from(NOW));
    String actual = CacheStore.sha256Of(hello);
    Path quarantined = cache.resolve(".modelcache/quarantine/m/20250601T101500.123Z--" + HELLO);
    String message =
        "m - a.txt: sha256 mismatch: expected "
            + HELLO
            + " (recorded at install), actual "
            + actual
            + "; the file was changed on the volume; blob "
            + hello
            + " moved to "
            + quarantined;
    try (LogCapture log = new LogCapture(Verifier.class)) {
      Verifier.Report report = verify(VerifyMode.FAST);
      assertThat(report.problems())
          .containsExactly(new Verifier.Problem(Verifier.Kind.CORRUPT, "a.txt", message));
      assertThat(log.lines())
          .filteredOn(l -> l.startsWith("WARN"))
          .containsExactly("WARN " + message);
    }
    assertThat(hello).doesNotExist();
    assertThat(quarantined).hasContent("jello");
    assertThat(registry.get(Metrics.VERIFY_FAILURES).tag("model", "m").counter().count())
        .isEqualTo(1);
    // the next verification finds it missing: a fetch brings it back
    assertThat(verify(VerifyMode.FAST).problems())
        .extracting(Verifier.Problem::message)
        .containsExactly("m - a.txt: blob " + hello + " is missing; run 'modelcache fetch'");
    assertThat(Verifier.missing(store, model))
        .extracting(Verifier.Problem::message)
        .containsExactly("m - a.txt: blob " + hello + " is missing");
  }

  @Test
  void aRewriteThatKeepsSizeMtimeAndInodeIsFoundOnlyByFull() throws Exception {
    FileTime mtime = Files.getLastModifiedTime(hello);
    Files.writeString(hello, "jello\n"); // in place: same inode, same size
    Files.setLastModifiedTime(hello, mtime);
    assertThat(verify(VerifyMode.FAST).problems()).isEmpty();
    assertThat(verify(VerifyMode.FULL).problems())
        .singleElement()
        .extracting(Verifier.Problem::kind)
        .isEqualTo(Verifier.Kind.CORRUPT);
  }

  @Test
  void fullHashesSeveralFilesAtOnce() throws Exception {
    CountDownLatch bothStarted = new CountDownLatch(2);
    AtomicInteger overlapping = new AtomicInteger();
    Verifier verifier =
        verifier(
            store,
            2,
            file -> {
              bothStarted.countDown();
              try {
                // each hash waits for the other to start: one thread alone would wait in vain
                if (bothStarted.await(20, TimeUnit.SECONDS)) {
                  overlapping.incrementAndGet();
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return CacheStore.sha256Of(file);
            });
    assertThat(verifier.verify(List.of(model), VerifyMode.FULL).get(0).problems()).isEmpty();
    assertThat(overlapping).hasValue(2);
  }

  @Test
  void reportsPinsMissingBlobsBrokenLinksAndModelsNotInstalled() throws Exception {
    ModelConfig pinned = model("m", "    sha256: {a.txt: " + WORLD + ", c.txt: " + WORLD + "}\n");
    Files.delete(world);
    Path link = store.installed(model).orElseThrow().dir().resolve("a.txt");
    Files.delete(link);
    Files.createSymbolicLink(link, Path.of("elsewhere"));
    List<Verifier.Report> reports =
        verifier().verify(List.of(pinned, model("other", "")), VerifyMode.FAST);
    String id = store.installed(model).orElseThrow().id();
    assertThat(reports.get(0).problems())
        .extracting(Verifier.Problem::message)
        .containsExactly(
            "m - a.txt: " + link + " does not link to its blob; run 'modelcache fetch'",
            "m - a.txt: sha256 mismatch: expected "
                + WORLD
                + " (pinned in the config), actual "
                + HELLO
                + "; run 'modelcache fetch' after checking the pin",
            "m - b.txt: blob " + world + " is missing; run 'modelcache fetch'",
            "m - c.txt: pinned in the config but not in snapshot "
                + id
                + "; run 'modelcache fetch'");
    assertThat(reports.get(1).problems())
        .extracting(Verifier.Problem::message)
        .containsExactly(
            "other - not in the cache at "
                + cache.resolve("local/other")
                + "; run 'modelcache fetch'");
  }

  @Test
  void anUnreadableInstallRecordIsOneProblemAndTheOtherModelsAreStillVerified() throws Exception {
    store.install(
        model("n", ""),
        CacheStore.snapshotId(Map.of("a.txt", HELLO)),
        "main",
        List.of(stage("a.txt", "hello\n")));
    Files.writeString(cache.resolve(".modelcache/models/n.json"), "{not json");
    List<Verifier.Report> reports =
        verifier().verify(List.of(model("n", ""), model), VerifyMode.FULL);
    assertThat(reports.get(0).problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Verifier.Kind.UNREADABLE);
              assertThat(p.message()).startsWith("n - cannot read its install record: ");
            });
    assertThat(reports.get(1).problems()).isEmpty();
    assertThat(reports.get(1).hashed()).isEqualTo(2);
  }

  @Test
  void onAReadOnlyCacheNothingIsMovedOrRecorded() throws Exception {
    Files.setLastModifiedTime(world, FileTime.from(NOW)); // would be re-stamped
    Files.writeString(hello, "jello\n"); // would be quarantined
    Files.setLastModifiedTime(hello, FileTime.from(NOW));
    List<String> before = TestModels.listing(cache);
    CacheStore readOnly = new CacheStore(cache, CacheStoreTest.volume(1L << 40, false));
    Verifier.Report report =
        verifier(readOnly, 2, CacheStore::sha256Of).verify(List.of(model), VerifyMode.FAST).get(0);
    assertThat(report.problems())
        .singleElement()
        .extracting(Verifier.Problem::message)
        .asString()
        .endsWith(
            "; the file was changed on the volume; blob "
                + hello
                + " left in place: the"
                + " cache is read-only");
    assertThat(TestModels.listing(cache)).isEqualTo(before);

    // the same cache, writable: the same verification writes (the test above is not vacuous)
    verify(VerifyMode.FAST);
    assertThat(TestModels.listing(cache)).isNotEqualTo(before);
  }

  /** Replaces {@code link} (a file or folder) by a symlink to {@code target}. */
  private static void plant(Path link, Path target) throws Exception {
    if (Files.isDirectory(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      TestModels.deleteTree(link);
    } else {
      Files.delete(link);
    }
    Files.createSymbolicLink(link, target);
  }

  private String leavesTheCache(Path link, Path target) throws Exception {
    return link
        + " leads outside the cache "
        + cache
        + ", to "
        + target.toRealPath()
        + ": modelcache never follows a symlink out of the cache";
  }

  private double verifyFailures() {
    return registry.find(Metrics.VERIFY_FAILURES).tag("model", "m").counter() == null
        ? 0
        : registry.get(Metrics.VERIFY_FAILURES).tag("model", "m").counter().count();
  }

  @ParameterizedTest
  @EnumSource(VerifyMode.class)
  void snapshotLinksLeavingTheCacheOrLeadingToOtherBytesAreReportedNamingThePath(VerifyMode mode)
      throws Exception {
    InstalledSnapshot snapshot = store.installed(model).orElseThrow();
    // the same bytes as the blob: only the link, not a digest, can tell that it is not the blob
    Path evil = Files.writeString(outside.resolve("evil"), "hello\n");
    Path a = snapshot.dir().resolve("a.txt");
    Path b = snapshot.dir().resolve("b.txt");
    plant(a, evil);
    plant(b, Path.of("../../blobs/" + HELLO)); // another blob of the cache: other bytes
    Path stray = snapshot.dir().resolve("config.json"); // named by no record, read by loaders
    Files.createSymbolicLink(stray, evil);

    Verifier.Report report = verify(mode);

    assertThat(report.problems())
        .containsExactly(
            new Verifier.Problem(
                Verifier.Kind.LINK,
                null,
                "m - config.json: "
                    + leavesTheCache(stray, evil)
                    + "; it is no file of snapshot "
                    + snapshot.id()
                    + ": remove it"),
            new Verifier.Problem(
                Verifier.Kind.LINK,
                "a.txt",
                "m - a.txt: " + leavesTheCache(a, evil) + "; run 'modelcache fetch'"),
            new Verifier.Problem(
                Verifier.Kind.LINK,
                "b.txt",
                "m - b.txt: "
                    + b
                    + " leads to "
                    + hello.toRealPath()
                    + ", not to its blob "
                    + world
                    + ": other bytes; run 'modelcache fetch'"));
    assertThat(hashed).as("nothing served through a bad link is hashed").isEmpty();
    assertThat(verifyFailures()).isEqualTo(3);
    assertThat(evil).hasContent("hello");
  }

  @ParameterizedTest
  @EnumSource(VerifyMode.class)
  void aSymlinkedSnapshotOrRepositoryFolderIsReportedNamingIt(VerifyMode mode) throws Exception {
    InstalledSnapshot snapshot = store.installed(model).orElseThrow();
    // a copy elsewhere with the same relative links: they lead to the copy's blobs, other bytes
    Path repo = cache.resolve("local/m");
    Path copy = outside.resolve("m");
    TestModels.copyTree(repo, copy);
    Files.writeString(copy.resolve("blobs/" + HELLO), "jello\n");
    Path copied = copy.resolve("snapshots/" + snapshot.id());

    plant(snapshot.dir(), copied);
    assertThat(verify(mode).problems())
        .containsExactly(
            new Verifier.Problem(
                Verifier.Kind.LINK,
                null,
                "m - " + leavesTheCache(snapshot.dir(), copied) + "; run 'modelcache fetch'"));

    plant(repo, copy);
    assertThat(verify(mode).problems())
        .containsExactly(
            new Verifier.Problem(
                Verifier.Kind.LINK,
                null,
                "m - "
                    + leavesTheCache(repo, copy)
                    + "; replace it with a real folder, or set cache.dir to the real path"));
    assertThat(hashed).as("nothing outside the cache is read").isEmpty();
    assertThat(copy.resolve("blobs/" + HELLO)).as("nothing outside is moved").hasContent("jello");
  }

  @ParameterizedTest
  @EnumSource(VerifyMode.class)
  void aBlobThatIsASymlinkIsQuarantinedNamingIt(VerifyMode mode) throws Exception {
    Path evil = Files.writeString(outside.resolve("evil"), "hello\n"); // the very bytes
    plant(hello, evil);
    Path quarantined = cache.resolve(".modelcache/quarantine/m/20250601T101500.123Z--" + HELLO);

    assertThat(verify(mode).problems())
        .containsExactly(
            new Verifier.Problem(
                Verifier.Kind.LINK,
                "a.txt",
                "m - a.txt: blob "
                    + hello
                    + " is a symlink to "
                    + evil
                    + ", not the bytes verified at install; the link moved to "
                    + quarantined
                    + "; run 'modelcache fetch'"));
    assertThat(Files.isSymbolicLink(quarantined)).isTrue();
    assertThat(hello).doesNotExist();
    assertThat(evil).hasContent("hello");
    assertThat(hashed).doesNotContain(hello, evil);
  }
}
