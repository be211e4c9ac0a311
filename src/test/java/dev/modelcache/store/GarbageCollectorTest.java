package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.GarbageCollector.Garbage;
import dev.modelcache.store.GarbageCollector.Kind;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What gc finds and removes, and what it never touches. */
class GarbageCollectorTest {
  private static final String HELLO =
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  private static final String WORLD =
      "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317";
  private static final String EXTRA = "ab".repeat(32);

  @TempDir Path cache;
  private CacheStore store;
  private ModelConfig m;
  private ModelConfig fresh;
  private final String first = CacheStore.snapshotId(Map.of("a.txt", HELLO));
  private final String second = CacheStore.snapshotId(Map.of("a.txt", WORLD));
  private Instant later;

  @BeforeEach
  void fill() throws Exception {
    store = new CacheStore(cache);
    m = model("m");
    fresh = model("fresh");
    // m: a first snapshot, then a second one that replaced it
    store.install(m, first, "main", List.of(entry("a.txt", "hello\n")));
    store.install(m, second, "main", List.of(entry("a.txt", "world\n")));
    Files.writeString(cache.resolve("local/m/blobs/" + EXTRA), "kept for the lockfile\n");
    // a model no longer configured
    store.install(model("gone"), first, "main", List.of(entry("a.txt", "hello\n")));
    // a configured model with blobs but no install record yet: a fetch in progress or crashed
    Files.createDirectories(cache.resolve("local/fresh/blobs"));
    Files.writeString(cache.resolve("local/fresh/blobs/" + HELLO), "hello\n");
    // parts and quarantine
    later = Instant.now().plus(Duration.ofHours(2));
    Path tmp = cache.resolve(".modelcache/tmp");
    Files.write(tmp.resolve("stale.part"), new byte[1000]);
    Files.setLastModifiedTime(tmp.resolve("stale.part"), FileTime.from(later.minusSeconds(3601)));
    Files.write(tmp.resolve("recent.part"), new byte[2000]);
    Files.setLastModifiedTime(tmp.resolve("recent.part"), FileTime.from(later.minusSeconds(60)));
    Files.createDirectories(cache.resolve(".modelcache/quarantine/m"));
    Files.writeString(
        cache.resolve(".modelcache/quarantine/m/20250601T101500.123Z--" + HELLO), "jello\n");
  }

  private ModelConfig model(String name) {
    return TestModels.config(cache, "  - name: " + name + "\n    source: file:/nowhere\n")
        .models()
        .get(0);
  }

  private CacheStore.Entry entry(String path, String text) throws Exception {
    try (PartFile part = store.newPart(-1)) {
      part.append(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), n -> {});
      StagedFile staged = part.finish();
      return new CacheStore.Entry(path, staged.sha256(), staged.size(), staged.sha256(), staged);
    }
  }

  /** m locked at a revision not fetched yet, whose one file is the EXTRA blob. */
  private Lockfile lock() {
    return Lockfile.empty()
        .with(
            "m",
            new Lockfile.Locked(
                "file:/nowhere",
                "f".repeat(40),
                List.of(new Lockfile.LockedFile("b.bin", 22, EXTRA))));
  }

  private GarbageCollector gc(Instant now) {
    return gc(now, lock());
  }

  private GarbageCollector gc(Instant now, Lockfile lock) {
    return new GarbageCollector(store, List.of(m, fresh), lock, Clock.fixed(now, ZoneOffset.UTC));
  }

  @Test
  void findsWhatNoConfiguredModelNeedsAndDeletesOnlyThat() throws Exception {
    long record = Files.size(cache.resolve(".modelcache/models/gone.json"));
    List<Garbage> garbage = gc(later).find();
    assertThat(garbage)
        .containsExactly(
            new Garbage(Kind.RECORD, cache.resolve(".modelcache/models/gone.json"), record),
            new Garbage(
                Kind.QUARANTINE,
                cache.resolve(".modelcache/quarantine/m/20250601T101500.123Z--" + HELLO),
                6),
            new Garbage(Kind.PART, cache.resolve(".modelcache/tmp/stale.part"), 1000),
            new Garbage(Kind.BLOB, cache.resolve("local/gone/blobs/" + HELLO), 6),
            new Garbage(Kind.REF, cache.resolve("local/gone/refs/main"), 40),
            new Garbage(Kind.SNAPSHOT, cache.resolve("local/gone/snapshots/" + first), 0),
            new Garbage(Kind.BLOB, cache.resolve("local/m/blobs/" + HELLO), 6),
            new Garbage(Kind.SNAPSHOT, cache.resolve("local/m/snapshots/" + first), 0));

    assertThat(gc(later).delete(garbage)).isEqualTo(record + 6 + 1000 + 6 + 40 + 6);
    assertThat(gc(later).find()).isEmpty();
    assertThat(TestModels.filesUnder(cache))
        .containsExactlyInAnyOrder(
            ".modelcache/models/m.json",
            ".modelcache/tmp/recent.part",
            "local/fresh/blobs/" + HELLO,
            "local/m/blobs/" + EXTRA,
            "local/m/blobs/" + WORLD,
            "local/m/refs/main");
    try (Verifier verifier =
        new Verifier(store, new Metrics(new SimpleMeterRegistry()), Clock.systemUTC())) {
      assertThat(verifier.verify(List.of(m), VerifyMode.FULL).get(0).problems()).isEmpty();
    }
    assertThat(Files.readString(cache.resolve("local/m/refs/main"))).isEqualTo(second);
  }

  @Test
  void theTreeListingOfARemovedHubSnapshotGoesWithIt() throws Exception {
    ModelConfig hub =
        TestModels.config(cache, "  - name: h\n    source: hf://org/name\n").models().get(0);
    String old = "a".repeat(40);
    String current = "b".repeat(40);
    List<HubTree.Entry> tree =
        List.of(new HubTree.Entry("a.txt", 6, "1".repeat(40), null, null, null));
    store.writeTree(hub, old, tree);
    store.install(hub, old, "main", List.of(entry("a.txt", "hello\n")));
    store.writeTree(hub, current, tree);
    store.install(hub, current, "main", List.of(entry("a.txt", "world\n")));
    Path repo = cache.resolve("hub/models--org--name");
    long treeBytes = Files.size(repo.resolve("trees/" + old + ".json"));

    List<Garbage> garbage =
        new GarbageCollector(
                store, List.of(hub), Lockfile.empty(), Clock.fixed(later, ZoneOffset.UTC))
            .find();

    assertThat(garbage)
        .filteredOn(g -> g.path().startsWith(repo))
        .containsExactly(
            new Garbage(Kind.BLOB, repo.resolve("blobs/" + HELLO), 6),
            new Garbage(Kind.SNAPSHOT, repo.resolve("snapshots/" + old), 0),
            new Garbage(Kind.TREE, repo.resolve("trees/" + old + ".json"), treeBytes));
  }

  @Test
  void aLockedUrlModelNoLongerConfiguredIsKeptUnderUrl() throws Exception {
    ModelConfig web =
        TestModels.config(
                cache,
                "  - name: web\n    files:\n      - {url: 'https://example.com/a.txt', sha256: "
                    + HELLO
                    + "}\n")
            .models()
            .get(0);
    store.install(web, first, "main", List.of(entry("a.txt", "hello\n")));
    assertThat(cache.resolve("url/web/snapshots/" + first + "/a.txt")).hasContent("hello");
    Lockfile lock =
        lock()
            .with(
                "web",
                new Lockfile.Locked(
                    "url", first, List.of(new Lockfile.LockedFile("a.txt", 6, HELLO))));
    assertThat(gc(later, lock).find())
        .extracting(Garbage::path)
        .noneMatch(p -> p.startsWith(cache.resolve("url")));
    assertThat(gc(later).find())
        .extracting(Garbage::path)
        .contains(cache.resolve("url/web/blobs/" + HELLO));
  }

  @Test
  void whatTheLockfilePinsIsKeptEvenForAModelNoLongerConfigured() throws Exception {
    Lockfile lock =
        lock()
            .with(
                "gone",
                new Lockfile.Locked(
                    "file:/nowhere", first, List.of(new Lockfile.LockedFile("a.txt", 6, HELLO))));
    List<Garbage> garbage = gc(later, lock).find();
    // gone is out of the config but locked at its installed snapshot: its snapshot, blob, ref and
    // install record stay; what m replaced still goes
    assertThat(garbage)
        .extracting(Garbage::path)
        .containsExactly(
            cache.resolve(".modelcache/quarantine/m/20250601T101500.123Z--" + HELLO),
            cache.resolve(".modelcache/tmp/stale.part"),
            cache.resolve("local/m/blobs/" + HELLO),
            cache.resolve("local/m/snapshots/" + first));

    // without the lockfile, m's EXTRA blob (locked, not yet linked by any snapshot) goes too
    assertThat(gc(later, Lockfile.empty()).find())
        .extracting(Garbage::path)
        .contains(
            cache.resolve("local/m/blobs/" + EXTRA), cache.resolve("local/gone/blobs/" + HELLO));
  }

  @Test
  void withinTheGraceHourNothingInARepositoryNorAPartIsTouched() throws Exception {
    // two hours earlier every blob, snapshot, ref and part is younger than an hour
    assertThat(gc(later.minus(Duration.ofHours(2))).find())
        .extracting(Garbage::kind)
        .containsExactly(Kind.RECORD, Kind.QUARANTINE);
  }
}
