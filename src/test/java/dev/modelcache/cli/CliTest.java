package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.store.CacheStore;
import java.nio.file.Files;
import java.nio.file.Path;
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
    assertThat(verify.out()).startsWith("ok iris: snapshot ").contains(" verified");

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
  void verifyFindsAFileChangedOnTheVolume() throws Exception {
    Path cache = tmp.resolve("cache");
    Path config =
        TestModels.configFile(
            tmp, cache, TestModels.modelYaml("iris", TestModels.copy("iris", tmp)));
    assertThat(CliRun.of("fetch", "-c", config.toString()).code()).isZero();
    Path blob = cache.resolve("local/iris/blobs/" + TestModels.sha256("iris", "model.pt"));
    TestModels.flipOneByte(blob);
    CliRun verify = CliRun.of("verify", "-c", config.toString());
    assertThat(verify.code()).isEqualTo(1);
    assertThat(verify.err())
        .startsWith(
            "FAILED iris - model.pt: sha256 mismatch: expected "
                + TestModels.sha256("iris", "model.pt")
                + " (recorded at install), actual "
                + CacheStore.sha256Of(blob));
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
                + " dir, offline, verify)\n");
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
