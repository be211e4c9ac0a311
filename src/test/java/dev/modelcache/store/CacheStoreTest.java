package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheStoreTest {
  // sha256("hello\n") and sha256("world\n"), as sha256sum prints them
  private static final String HELLO =
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  private static final String WORLD =
      "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317";

  @TempDir Path cache;

  private StagedFile stage(CacheStore store, String text) throws Exception {
    return store.stage(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), n -> {});
  }

  @Test
  void installsBlobsSnapshotSymlinksAndRefInTheHubLayout() throws Exception {
    CacheStore store = new CacheStore(cache);
    Map<String, StagedFile> files = new LinkedHashMap<>();
    files.put("a.txt", stage(store, "hello\n"));
    files.put("sub/dir/b.txt", stage(store, "world\n"));
    InstalledSnapshot snapshot = store.install("m", files);

    Path repo = cache.resolve("local/m");
    assertThat(repo.resolve("blobs/" + HELLO)).hasContent("hello");
    assertThat(repo.resolve("blobs/" + WORLD)).hasContent("world");
    String id = CacheStore.snapshotId(Map.of("a.txt", HELLO, "sub/dir/b.txt", WORLD));
    assertThat(snapshot.id()).isEqualTo(id).hasSize(40);
    assertThat(Files.readString(repo.resolve("refs/main"))).isEqualTo(id);
    Path link = repo.resolve("snapshots/" + id + "/sub/dir/b.txt");
    assertThat(Files.isSymbolicLink(link)).isTrue();
    assertThat(Files.readSymbolicLink(link).toString()).isEqualTo("../../../../blobs/" + WORLD);
    assertThat(Files.readSymbolicLink(repo.resolve("snapshots/" + id + "/a.txt")).toString())
        .isEqualTo("../../blobs/" + HELLO);
    assertThat(snapshot.files())
        .extracting(InstalledSnapshot.InstalledFile::path)
        .containsExactly("a.txt", "sub/dir/b.txt");
    assertThat(snapshot.files().get(0).sha256()).isEqualTo(HELLO);
    assertThat(snapshot.files().get(0).size()).isEqualTo(6);
    assertThat(Files.list(cache.resolve(".modelcache/tmp"))).isEmpty();
  }

  @Test
  void snapshotIdIsTheDigestOfTheSha256sumListing() throws Exception {
    // printf '%s  a.txt\n' HELLO | sha256sum | cut -c1-40, computed independently with coreutils
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
    InstalledSnapshot first = store.install("m", Map.of("a.txt", stage(store, "hello\n")));
    InstalledSnapshot second = store.install("m", Map.of("a.txt", stage(store, "world\n")));
    assertThat(second.id()).isNotEqualTo(first.id());
    assertThat(store.installed("m").orElseThrow().id()).isEqualTo(second.id());
    assertThat(first.dir().resolve("a.txt")).hasContent("hello");
  }

  @Test
  void verifyFindsACorruptedBlobAndAPinMismatch() throws Exception {
    CacheStore store = new CacheStore(cache);
    store.install("m", Map.of("a.txt", stage(store, "hello\n")));
    assertThat(store.verify("m", Map.of("a.txt", HELLO))).isEmpty();
    assertThat(store.verify("m", Map.of("a.txt", WORLD)))
        .containsExactly(
            "m - a.txt: sha256 mismatch: expected "
                + WORLD
                + " (pinned in the config), actual "
                + HELLO
                + "; run 'modelcache fetch' after checking the pin");
    Files.writeString(cache.resolve("local/m/blobs/" + HELLO), "jello\n");
    assertThat(store.verify("m", Map.of()))
        .singleElement()
        .asString()
        .startsWith(
            "m - a.txt: sha256 mismatch: expected " + HELLO + " (recorded at install), actual ");
    assertThat(store.verify("other", Map.of()))
        .singleElement()
        .asString()
        .contains("not in the cache");
  }

  @Test
  void discardRemovesTheTempFile() throws Exception {
    CacheStore store = new CacheStore(cache);
    StagedFile staged = stage(store, "hello\n");
    assertThat(staged.temp()).exists();
    assertThat(staged.sha256()).isEqualTo(HELLO);
    store.discard(staged);
    assertThat(staged.temp()).doesNotExist();
  }
}
