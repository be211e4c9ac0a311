package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.ModelConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheStoreTest {
  // sha256("hello\n") and sha256("world\n"), as sha256sum prints them
  private static final String HELLO =
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  private static final String WORLD =
      "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317";
  // git hash-object of "hello\n": sha1("blob 6\0hello\n")
  private static final String HELLO_GIT = "ce013625030ba8dba906f756967f9e9ca394464a";

  @TempDir Path cache;
  @TempDir Path outside;

  private ModelConfig local(String name) {
    return TestModels.config(cache, "  - name: " + name + "\n    source: file:/nowhere\n")
        .models()
        .get(0);
  }

  private ModelConfig hub(String name, String source) {
    return TestModels.config(cache, "  - name: " + name + "\n    source: " + source + "\n")
        .models()
        .get(0);
  }

  private static StagedFile stage(CacheStore store, String text, long gitSize) throws IOException {
    try (PartFile part = store.newPart(gitSize)) {
      part.append(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), n -> {});
      return part.finish();
    }
  }

  private static CacheStore.Entry entry(String path, StagedFile staged) {
    return new CacheStore.Entry(path, staged.sha256(), staged.size(), staged.sha256(), staged);
  }

  @Test
  void installsLocalModelsInTheHubStructureNamedBySha256() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    String id = CacheStore.snapshotId(Map.of("a.txt", HELLO, "sub/dir/b.txt", WORLD));
    InstalledSnapshot snapshot =
        store.install(
            model,
            id,
            "main",
            List.of(
                entry("a.txt", stage(store, "hello\n", -1)),
                entry("sub/dir/b.txt", stage(store, "world\n", -1))));

    Path repo = cache.resolve("local/m");
    assertThat(repo.resolve("blobs/" + HELLO)).hasContent("hello");
    assertThat(repo.resolve("blobs/" + WORLD)).hasContent("world");
    assertThat(snapshot.id()).isEqualTo(id).hasSize(40);
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(id);
    Path link = repo.resolve("snapshots/" + id + "/sub/dir/b.txt");
    assertThat(Files.isSymbolicLink(link)).isTrue();
    assertThat(Files.readSymbolicLink(link).toString()).isEqualTo("../../../../blobs/" + WORLD);
    assertThat(Files.readSymbolicLink(repo.resolve("snapshots/" + id + "/a.txt")).toString())
        .isEqualTo("../../blobs/" + HELLO);
    assertThat(store.installed(model).orElseThrow().files())
        .extracting(f -> f.path() + " " + f.size() + " " + f.sha256())
        .containsExactly("a.txt 6 " + HELLO, "sub/dir/b.txt 6 " + WORLD);
    assertThat(Files.list(cache.resolve(".modelcache/tmp"))).isEmpty();
  }

  @Test
  void hubModelsGoUnderHubWithEtagBlobsCommitSnapshotsAndRevisionRefs() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = hub("m", "hf://org/name@refs/pr/1");
    String commit = "0123456789abcdef0123456789abcdef01234567";
    StagedFile plain = stage(store, "hello\n", 6);
    assertThat(plain.gitSha1()).isEqualTo(HELLO_GIT);
    store.install(
        model,
        commit,
        CacheStore.refName(model),
        List.of(new CacheStore.Entry("config.json", HELLO_GIT, 6, HELLO, plain)));
    Path repo = cache.resolve("hub/models--org--name");
    assertThat(repo.resolve("blobs/" + HELLO_GIT)).hasContent("hello");
    assertThat(Files.readString(repo.resolve("refs/refs/pr/1"))).isEqualTo(commit);
    assertThat(
            Files.readSymbolicLink(repo.resolve("snapshots/" + commit + "/config.json")).toString())
        .isEqualTo("../../blobs/" + HELLO_GIT);

    ModelConfig dataset =
        TestModels.config(
                cache,
                "  - name: d\n    source: hf://org/data@" + commit + "\n    repo_type: dataset\n")
            .models()
            .get(0);
    assertThat(store.repoDir(dataset)).isEqualTo(cache.resolve("hub/datasets--org--data"));
    assertThat(CacheStore.refName(dataset)).isNull();
  }

  @Test
  void snapshotIdIsTheDigestOfTheSha256sumListing() throws Exception {
    String listing = HELLO + "  a.txt\n";
    String expected =
        java.util.HexFormat.of()
            .formatHex(
                java.security.MessageDigest.getInstance("SHA-256")
                    .digest(listing.getBytes(StandardCharsets.UTF_8)))
            .substring(0, 40);
    assertThat(CacheStore.snapshotId(Map.of("a.txt", HELLO))).isEqualTo(expected);
  }

  @Test
  void reinstallingNewContentMovesTheRefAndKeepsTheOldSnapshotWhole() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    String first = CacheStore.snapshotId(Map.of("a.txt", HELLO));
    String second = CacheStore.snapshotId(Map.of("a.txt", WORLD));
    store.install(model, first, "main", List.of(entry("a.txt", stage(store, "hello\n", -1))));
    store.install(model, second, "main", List.of(entry("a.txt", stage(store, "world\n", -1))));
    assertThat(store.installed(model).orElseThrow().id()).isEqualTo(second);
    assertThat(Files.readString(cache.resolve("local/m/refs/main"))).isEqualTo(second);
    assertThat(cache.resolve("local/m/snapshots/" + first + "/a.txt")).hasContent("hello");
  }

  @Test
  void aPartResumesWhereATransferStoppedAndHashesTheWhole() throws Exception {
    CacheStore store = new CacheStore(cache);
    InputStream cut = new ByteArrayInputStream("hel".getBytes(StandardCharsets.UTF_8));
    try (PartFile part = store.newPart(6)) {
      part.append(cut, n -> {});
      assertThat(part.size()).isEqualTo(3);
      part.append(new ByteArrayInputStream("lo\n".getBytes(StandardCharsets.UTF_8)), n -> {});
      StagedFile staged = part.finish();
      assertThat(staged.sha256()).isEqualTo(HELLO);
      assertThat(staged.gitSha1()).isEqualTo(HELLO_GIT);
      assertThat(staged.temp()).hasContent("hello");
    }
  }

  @Test
  void anAbandonedPartLeavesNoFile() throws Exception {
    CacheStore store = new CacheStore(cache);
    try (PartFile part = store.newPart(-1)) {
      part.append(new ByteArrayInputStream(new byte[10]), n -> {});
    }
    assertThat(Files.list(cache.resolve(".modelcache/tmp"))).isEmpty();
  }

  @Test
  void installRecordsTheStampOfEveryBlobItMoved() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    store.install(
        model,
        CacheStore.snapshotId(Map.of("a.txt", HELLO)),
        "main",
        List.of(entry("a.txt", stage(store, "hello\n", -1))));
    Path blob = cache.resolve("local/m/blobs/" + HELLO);
    FileStamp stamp = store.installed(model).orElseThrow().files().get(0).stamp();
    assertThat(stamp)
        .isEqualTo(
            new FileStamp(
                6,
                Files.getLastModifiedTime(blob).to(TimeUnit.NANOSECONDS),
                ((Number) Files.getAttribute(blob, "unix:ino")).longValue()));
    JsonNode record =
        new ObjectMapper().readTree(cache.resolve(".modelcache/models/m.json").toFile());
    assertThat(record.at("/files/0/stamp/inode").asLong()).isEqualTo(stamp.inode());
    assertThat(record.at("/files/0/stamp/mtime_ns").asLong()).isEqualTo(stamp.mtimeNanos());
    assertThat(record.at("/files/0/stamp/size").asLong()).isEqualTo(6);
  }

  @Test
  void aBlobFoundInPlaceKeepsTheStampItsLastVerificationGaveIt() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    String id = CacheStore.snapshotId(Map.of("a.txt", HELLO));
    store.install(model, id, "main", List.of(entry("a.txt", stage(store, "hello\n", -1))));
    FileStamp verified = store.installed(model).orElseThrow().files().get(0).stamp();
    // rewritten in place with other bytes of the same size: a fetch sees the blob "present"
    Path blob = cache.resolve("local/m/blobs/" + HELLO);
    Files.writeString(blob, "jello\n");
    Files.setLastModifiedTime(blob, FileTime.fromMillis(1_000_000_000_000L));
    store.install(model, id, "main", List.of(new CacheStore.Entry("a.txt", HELLO, 6, HELLO, null)));
    assertThat(store.installed(model).orElseThrow().files().get(0).stamp()).isEqualTo(verified);
    assertThat(verified.matches(FileStamp.of(blob))).isFalse();

    // a model that never verified the blob records no stamp: its next verification re-hashes it
    ModelConfig other = local("other");
    Files.createDirectories(cache.resolve("local/other/blobs"));
    Files.writeString(cache.resolve("local/other/blobs/" + HELLO), "hello\n");
    store.install(other, id, "main", List.of(new CacheStore.Entry("a.txt", HELLO, 6, HELLO, null)));
    assertThat(store.installed(other).orElseThrow().files().get(0).stamp()).isNull();
  }

  @Test
  void checkSpaceFailsEarlyNamingBothNumbers() throws Exception {
    CacheStore store = new CacheStore(cache, volume(100 << 20, true));
    store.checkSpace(100 << 20);
    store.checkSpace(0);
    assertThatThrownBy(() -> store.checkSpace(600L << 20))
        .isInstanceOf(StoreException.class)
        .hasMessage(
            "not enough space for the cache at "
                + cache
                + ": 629145600 bytes (600.0 MiB) still to fetch, 104857600 bytes (100.0 MiB) usable"
                + " on its volume; free space (modelcache gc --delete) or grow the volume");
  }

  @Test
  void quarantineKeepsModelBlobAndTimeInTheName() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    store.install(
        model,
        CacheStore.snapshotId(Map.of("a.txt", HELLO)),
        "main",
        List.of(entry("a.txt", stage(store, "hello\n", -1))));
    Path blob = cache.resolve("local/m/blobs/" + HELLO);
    Instant when = Instant.parse("2025-06-01T10:15:00.123Z");
    Path moved = store.quarantine(model, blob, when);
    assertThat(moved)
        .isEqualTo(cache.resolve(".modelcache/quarantine/m/20250601T101500.123Z--" + HELLO))
        .hasContent("hello");
    assertThat(blob).doesNotExist();
    Files.writeString(blob, "hello\n");
    assertThat(store.quarantine(model, blob, when))
        .isEqualTo(cache.resolve(".modelcache/quarantine/m/20250601T101500.123Z-2--" + HELLO));
  }

  @Test
  void aReadOnlyStoreRefusesToQuarantineOrRecord() throws Exception {
    new CacheStore(cache)
        .install(
            local("m"),
            CacheStore.snapshotId(Map.of("a.txt", HELLO)),
            "main",
            List.of(entry("a.txt", stage(new CacheStore(cache), "hello\n", -1))));
    CacheStore store = new CacheStore(cache, volume(1L << 40, false));
    assertThat(store.writable()).isFalse();
    Path blob = cache.resolve("local/m/blobs/" + HELLO);
    assertThatThrownBy(() -> store.quarantine(local("m"), blob, Instant.EPOCH))
        .isInstanceOf(StoreException.class)
        .hasMessage("the cache at " + cache + " is read-only: cannot quarantine " + blob);
    assertThatThrownBy(
            () -> store.recordStamps(local("m"), store.installed(local("m")).orElseThrow()))
        .hasMessage("the cache at " + cache + " is read-only: cannot record the stamps of m");
    assertThat(blob).exists();
  }

  static Volume volume(long usable, boolean writable) {
    return new Volume() {
      @Override
      public long usableBytes(Path dir) {
        return usable;
      }

      @Override
      public boolean writable(Path dir) {
        return writable;
      }
    };
  }

  @Test
  void refusesPathsThatCouldEscapeTheModelFolder() {
    for (String bad :
        List.of("../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "a\\b", "", "a/\n")) {
      assertThatThrownBy(() -> CacheStore.checkRelativePath(bad))
          .as(bad)
          .isInstanceOf(IOException.class)
          .hasMessageContaining("could escape the model's folder");
    }
  }

  private InstalledSnapshot installHelloWorld(CacheStore store, ModelConfig model)
      throws IOException {
    return store.install(
        model,
        CacheStore.snapshotId(Map.of("a.txt", HELLO, "b.txt", WORLD)),
        "main",
        List.of(
            entry("a.txt", stage(store, "hello\n", -1)),
            entry("b.txt", stage(store, "world\n", -1))));
  }

  /** The same files again, every blob already in place. */
  private static List<CacheStore.Entry> inPlace(InstalledSnapshot snapshot) {
    return snapshot.files().stream()
        .map(
            f ->
                new CacheStore.Entry(
                    f.path(), f.blob().getFileName().toString(), f.size(), f.sha256(), null))
        .toList();
  }

  @Test
  void installReplacesASymlinkedSnapshotFolderAndWritesNothingOutsideTheCache() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    InstalledSnapshot snapshot = installHelloWorld(store, model);
    TestModels.deleteTree(snapshot.dir());
    Files.createSymbolicLink(snapshot.dir(), outside);

    store.install(model, snapshot.id(), "main", inPlace(snapshot));

    assertThat(Files.isSymbolicLink(snapshot.dir())).isFalse();
    assertThat(TestModels.filesUnder(outside)).isEmpty();
    assertThat(CacheStore.realPath(snapshot, snapshot.files().get(0)))
        .isEqualTo(snapshot.files().get(0).blob().toRealPath());
  }

  @Test
  void installRefusesToWriteThroughASymlinkedRepositoryNamingIt() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    InstalledSnapshot snapshot = installHelloWorld(store, model);
    Path repo = cache.resolve("local/m");
    TestModels.copyTree(repo, outside.resolve("m"));
    TestModels.deleteTree(repo);
    Files.createSymbolicLink(repo, outside.resolve("m"));
    List<String> before = TestModels.listing(outside);

    assertThatThrownBy(() -> store.install(model, snapshot.id(), "main", inPlace(snapshot)))
        .isInstanceOf(StoreException.class)
        .hasMessage(
            repo
                + " is a symlink to "
                + outside.resolve("m")
                + ": modelcache writes nothing through a symlink in the cache; replace it with a"
                + " folder, or set cache.dir to the real path");
    assertThat(TestModels.listing(outside)).isEqualTo(before);
  }

  @Test
  void aSymlinkInBlobsOrSetAsideIsNotTakenForTheBlob() throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    installHelloWorld(store, model);
    Path blob = cache.resolve("local/m/blobs/" + HELLO);
    Files.delete(blob);
    Files.createSymbolicLink(blob, Files.writeString(outside.resolve("evil"), "hello\n"));

    assertThat(store.blob(model, HELLO, 6)).isEmpty();
    assertThat(store.blob(model, WORLD, 6)).isPresent();

    // nor in the verified files set aside by a fetch that did not finish
    Path aside = cache.resolve(".modelcache/verified/local-m/" + HELLO);
    Files.createDirectories(aside.getParent());
    Files.createSymbolicLink(aside, outside.resolve("evil"));
    assertThat(store.setAside(model, HELLO, 6)).isEmpty();
  }

  @Test
  void installRecordsNameTheRepositoryRelativeToTheCacheRoot() throws Exception {
    CacheStore store = new CacheStore(cache);
    installHelloWorld(store, local("m"));
    JsonNode record =
        new ObjectMapper().readTree(cache.resolve(".modelcache/models/m.json").toFile());
    assertThat(record.path("repo").asText()).isEqualTo("local/m");
    assertThat(Files.readString(cache.resolve(".modelcache/models/m.json")))
        .doesNotContain(cache.toString());
  }

  @Test
  void aMovedCacheIsTheSameCacheWithTheSameStamps() throws Exception {
    Path a = cache.resolve("a");
    Path b = cache.resolve("b");
    InstalledSnapshot before =
        installHelloWorld(
            new CacheStore(a),
            TestModels.config(a, "  - name: m\n    source: file:/nowhere\n").models().get(0));
    Files.move(a, b);

    ModelConfig moved =
        TestModels.config(b, "  - name: m\n    source: file:/nowhere\n").models().get(0);
    InstalledSnapshot after = new CacheStore(b).installed(moved).orElseThrow();

    assertThat(after.id()).isEqualTo(before.id());
    assertThat(after.dir()).isEqualTo(b.resolve("local/m/snapshots/" + before.id()));
    for (InstalledSnapshot.InstalledFile file : after.files()) {
      assertThat(file.blob()).startsWith(b);
      assertThat(file.stamp().matches(FileStamp.of(file.blob()))).as(file.path()).isTrue();
      assertThat(CacheStore.realPath(after, file)).isEqualTo(file.blob().toRealPath());
    }
  }

  @Test
  void anOldRecordWithAnAbsoluteRepositoryPathIsReRootedUnlessItNamesAnotherRepository()
      throws Exception {
    CacheStore store = new CacheStore(cache);
    ModelConfig model = local("m");
    InstalledSnapshot installed = installHelloWorld(store, model);
    Path record = cache.resolve(".modelcache/models/m.json");
    String relative = "\"repo\" : \"local/m\"";
    String text = Files.readString(record);
    assertThat(text).contains(relative);

    // as written before: absolute, under a root this cache was once mounted at
    Files.writeString(record, text.replace(relative, "\"repo\" : \"/old/root/local/m\""));
    assertThat(store.installed(model).orElseThrow()).isEqualTo(installed);

    Files.writeString(record, text.replace(relative, "\"repo\" : \"/old/root/local/other\""));
    assertThat(store.installed(model)).isEmpty();
  }
}
