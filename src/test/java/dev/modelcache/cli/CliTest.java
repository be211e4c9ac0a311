package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.store.CacheStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands as an init container or an operator runs them. */
class CliTest {
  @TempDir Path tmp;

  @Test
  void fetchVerifyAndListAGoodModel() throws Exception {
    Path cache = tmp.resolve("cache");
    Path config =
        TestModels.configFile(
            tmp, cache, TestModels.modelYaml("iris", TestModels.copy("iris", tmp)));
    CliRun fetch = CliRun.of("fetch", "--config", config.toString());
    assertThat(fetch.code()).as(fetch.err()).isZero();
    assertThat(fetch.out()).startsWith("ok iris: snapshot ");

    CliRun verify = CliRun.of("verify", "-c", config.toString());
    assertThat(verify.code()).isZero();
    assertThat(verify.out())
        .startsWith("ok iris: snapshot ")
        .contains(" verified (fast: 2 files, 0 re-hashed)");

    CliRun list = CliRun.of("list", "-c", config.toString(), "--files");
    assertThat(list.code()).isZero();
    assertThat(list.out())
        .contains("iris")
        .contains("yes")
        .contains("sha256:" + TestModels.sha256("iris", "model.pt"));
  }

  @Test
  void fetchOfAFlippedByteExitsNonZeroNamingFileAndDigestsAndInstallsNothing() throws Exception {
    Path cache = tmp.resolve("cache");
    Path source = TestModels.copy("iris", tmp);
    TestModels.flipOneByte(source.resolve("model.pt"));
    Path config = TestModels.configFile(tmp, cache, TestModels.modelYaml("iris", source));
    CliRun fetch = CliRun.of("fetch", "-c", config.toString());
    assertThat(fetch.code()).isEqualTo(1);
    assertThat(fetch.err().lines())
        .containsExactly(
            "FAILED iris: iris - model.pt: sha256 mismatch: expected "
                + TestModels.sha256("iris", "model.pt")
                + " (pinned in the config), actual "
                + CacheStore.sha256Of(source.resolve("model.pt"))
                + "; the file was not installed. If the new bytes are"
                + " intended, update the pin; otherwise restore the file");
    TestModels.assertNothingInstalled(cache, CacheStore.sha256Of(source.resolve("model.pt")));
  }

  @Test
  void verifyFindsAFileChangedOnTheVolumeQuarantinesItAndFetchBringsItBack() throws Exception {
    Path cache = tmp.resolve("cache");
    Path config =
        TestModels.configFile(
            tmp, cache, TestModels.modelYaml("iris", TestModels.copy("iris", tmp)));
    assertThat(CliRun.of("fetch", "-c", config.toString()).code()).isZero();
    Path blob = cache.resolve("local/iris/blobs/" + TestModels.sha256("iris", "model.pt"));
    TestModels.flipOneByte(blob);
    TestModels.shiftMtime(blob, 1); // written a second after install, as any later write is
    String actual = CacheStore.sha256Of(blob);
    CliRun verify = CliRun.of("verify", "-c", config.toString());
    assertThat(verify.code()).isEqualTo(1);
    Path quarantine = cache.resolve(".modelcache/quarantine/iris");
    assertThat(TestModels.filesUnder(quarantine))
        .singleElement()
        .asString()
        .matches("[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z--" + TestModels.sha256("iris", "model.pt"));
    Path moved = quarantine.resolve(TestModels.filesUnder(quarantine).get(0));
    assertThat(verify.err().lines())
        .containsExactly(
            "FAILED iris - model.pt: sha256 mismatch: expected "
                + TestModels.sha256("iris", "model.pt")
                + " (recorded at install), actual "
                + actual
                + "; the file was changed on the volume; blob "
                + blob
                + " moved to "
                + moved);
    assertThat(verify.out()).contains("fast verification of 2 files: 1 re-hashed");

    assertThat(CliRun.of("fetch", "-c", config.toString()).code()).isZero();
    assertThat(blob).hasSameBinaryContentAs(TestModels.MODELS.resolve("iris/model.pt"));
    CliRun again = CliRun.of("verify", "--full", "-c", config.toString());
    assertThat(again.code()).as(again.err()).isZero();
    assertThat(again.out())
        .startsWith("ok iris: snapshot ")
        .contains(" verified (full: 2 files, 2 re-hashed)");
  }

  @Test
  void verifyFullFindsWhatTheStampsCannotSee() throws Exception {
    Path cache = tmp.resolve("cache");
    Path config =
        TestModels.configFile(
            tmp, cache, TestModels.modelYaml("iris", TestModels.copy("iris", tmp)));
    assertThat(CliRun.of("fetch", "-c", config.toString()).code()).isZero();
    Path blob = cache.resolve("local/iris/blobs/" + TestModels.sha256("iris", "config.json"));
    java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(blob);
    TestModels.flipOneByte(blob);
    Files.setLastModifiedTime(blob, mtime); // same size, inode and mtime: bit rot looks like this
    assertThat(CliRun.of("verify", "-c", config.toString()).code()).isZero();
    CliRun full = CliRun.of("verify", "--full", "-c", config.toString());
    assertThat(full.code()).isEqualTo(1);
    assertThat(full.err())
        .startsWith(
            "FAILED iris - config.json: sha256 mismatch: expected "
                + TestModels.sha256("iris", "config.json")
                + " (recorded at install), actual ");
    assertThat(full.out()).contains("full verification of 2 files: 2 re-hashed");
  }

  @Test
  void gcListsThenRemovesWhatNoConfiguredModelNeeds() throws Exception {
    Path cache = tmp.resolve("cache");
    Path source = TestModels.copy("iris", tmp);
    Path config = TestModels.configFile(tmp, cache, TestModels.modelYaml("iris", source));
    CliRun first = CliRun.of("fetch", "-c", config.toString());
    String oldSnapshot = first.out().substring("ok iris: snapshot ".length()).substring(0, 40);
    // the model's config.json changes upstream: the next fetch installs a new snapshot
    Files.writeString(source.resolve("config.json"), "{}\n");
    Path unpinned =
        TestModels.configFile(tmp, cache, "  - name: iris\n    source: file:" + source + "\n");
    assertThat(CliRun.of("fetch", "-c", unpinned.toString()).code()).isZero();
    Path oldBlob = cache.resolve("local/iris/blobs/" + TestModels.sha256("iris", "config.json"));
    long oldBytes = Files.size(oldBlob);
    assertThat(CliRun.of("gc", "-c", unpinned.toString()).out())
        .isEqualTo("nothing to reclaim in " + cache + "\n"); // all younger than an hour
    ageTree(cache.resolve("local"), Duration.ofHours(2));

    String listing =
        String.format(
            "blob       %14d  local/iris/blobs/%s%n" + "snapshot   %14d  local/iris/snapshots/%s%n",
            oldBytes, TestModels.sha256("iris", "config.json"), 0, oldSnapshot);
    CliRun gc = CliRun.of("gc", "-c", unpinned.toString());
    assertThat(gc.code()).isZero();
    assertThat(gc.out())
        .isEqualTo(
            listing
                + oldBytes
                + " bytes reclaimable in 2 paths in "
                + cache
                + "; run 'modelcache gc --delete' to remove them\n");
    CliRun delete = CliRun.of("gc", "--delete", "-c", unpinned.toString());
    assertThat(delete.out())
        .isEqualTo(listing + oldBytes + " bytes reclaimed from 2 paths in " + cache + "\n");
    assertThat(oldBlob).doesNotExist();
    assertThat(cache.resolve("local/iris/snapshots/" + oldSnapshot)).doesNotExist();
    assertThat(CliRun.of("verify", "--full", "-c", unpinned.toString()).code()).isZero();
    assertThat(CliRun.of("gc", "-c", unpinned.toString()).out())
        .isEqualTo("nothing to reclaim in " + cache + "\n");
  }

  /** Sets the mtime of everything under {@code dir} (symlinks themselves) {@code age} ago. */
  private static void ageTree(Path dir, Duration age) throws Exception {
    FileTime then = FileTime.from(Instant.now().minus(age));
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setTimes(then, null, null);
      }
    }
  }

  @Test
  void aBadConfigExitsWith2AndNamesKeyAndFile() throws Exception {
    Path config = tmp.resolve("bad.yaml");
    Files.writeString(config, "cache:\n  dri: x\n");
    CliRun fetch = CliRun.of("fetch", "-c", config.toString());
    assertThat(fetch.code()).isEqualTo(2);
    assertThat(fetch.err())
        .isEqualTo(
            "modelcache: "
                + config
                + ": unknown key 'cache.dri' (allowed under cache:"
                + " dir, offline, verify, max_bytes)\n");
  }

  @Test
  void listBeforeFetchShowsNothingCached() {
    Path config =
        TestModels.configFile(
            tmp, tmp.resolve("cache"), TestModels.modelYaml("iris", TestModels.copy("iris", tmp)));
    CliRun list = CliRun.of("list", "-c", config.toString());
    assertThat(list.code()).isZero();
    assertThat(list.out().lines().skip(1).findFirst().orElseThrow())
        .startsWith("iris")
        .contains(" no ");
  }
}
