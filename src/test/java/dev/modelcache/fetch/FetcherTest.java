package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.FileSource;
import dev.modelcache.source.SourceException;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FetcherTest {
  @TempDir Path tmp;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  private Fetcher fetcher(Path cache, ModelStates states) {
    return new Fetcher(
        new CacheStore(cache),
        Map.of(SourceRef.Scheme.FILE, new FileSource()),
        states,
        new Metrics(registry),
        Clock.systemUTC(),
        false);
  }

  private static ModelStates states(String... names) {
    return new ModelStates(List.of(names), Set.of(names), Clock.systemUTC());
  }

  @Test
  void fetchesAPinnedModelAndRecordsEveryDigest() throws Exception {
    Path source = TestModels.copy("iris", tmp.resolve("src"));
    Path cache = tmp.resolve("cache");
    Config config = TestModels.config(cache, TestModels.modelYaml("iris", source));
    InstalledSnapshot snapshot = fetcher(cache, states("iris")).fetch(config.models().get(0));
    assertThat(snapshot.files())
        .extracting(f -> f.path() + "=" + f.sha256())
        .containsExactly(
            "config.json=" + TestModels.sha256("iris", "config.json"),
            "model.pt=" + TestModels.sha256("iris", "model.pt"));
    assertThat(snapshot.dir().resolve("model.pt"))
        .hasSameBinaryContentAs(source.resolve("model.pt"));
    assertThat(registry.get(Metrics.FETCH_BYTES).counter().count())
        .isEqualTo(
            (double) Files.size(source.resolve("model.pt"))
                + Files.size(source.resolve("config.json")));
  }

  @Test
  void aFlippedByteInstallsNothingAndNamesFileAndBothDigests() throws Exception {
    Path source = TestModels.copy("iris", tmp.resolve("src"));
    TestModels.flipOneByte(source.resolve("model.pt"));
    String actual = CacheStore.sha256Of(source.resolve("model.pt"));
    Path cache = tmp.resolve("cache");
    ModelConfig model =
        TestModels.config(cache, TestModels.modelYaml("iris", source)).models().get(0);

    assertThatThrownBy(() -> fetcher(cache, states("iris")).fetch(model))
        .isInstanceOf(ChecksumMismatchException.class)
        .hasMessageStartingWith(
            "iris - model.pt: sha256 mismatch: expected "
                + TestModels.sha256("iris", "model.pt")
                + " (pinned in the config), actual "
                + actual
                + "; the file was not installed");
    TestModels.assertNothingInstalled(cache, actual);
    assertThat(registry.get(Metrics.VERIFY_FAILURES).counter().count()).isEqualTo(1.0);
  }

  @Test
  void aPinForAFileTheSourceLacksFails() throws Exception {
    Path source = TestModels.copy("iris", tmp.resolve("src"));
    Files.delete(source.resolve("config.json"));
    Path cache = tmp.resolve("cache");
    ModelConfig model =
        TestModels.config(cache, TestModels.modelYaml("iris", source)).models().get(0);
    assertThatThrownBy(() -> fetcher(cache, states("iris")).fetch(model))
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "iris - sha256 pin for 'config.json' names a file that file:"
                + source
                + " does not have (files: model.pt)");
  }

  @Test
  void aMissingSourceDirectorySaysWhereItLooked() {
    Path cache = tmp.resolve("cache");
    ModelConfig model =
        TestModels.config(cache, "  - name: x\n    source: file:" + tmp.resolve("nope") + "\n")
            .models()
            .get(0);
    assertThatThrownBy(() -> fetcher(cache, states("x")).fetch(model))
        .hasMessageStartingWith("x - source directory " + tmp.resolve("nope") + " does not exist");
  }

  @Test
  void aFullyPinnedInstalledModelIsNotCopiedAgain() throws Exception {
    Path source = TestModels.copy("iris", tmp.resolve("src"));
    Path cache = tmp.resolve("cache");
    ModelConfig model =
        TestModels.config(cache, TestModels.modelYaml("iris", source)).models().get(0);
    InstalledSnapshot first = fetcher(cache, states("iris")).fetch(model);
    double bytes = registry.get(Metrics.FETCH_BYTES).counter().count();
    InstalledSnapshot second = fetcher(cache, states("iris")).fetch(model);
    assertThat(second.id()).isEqualTo(first.id());
    assertThat(registry.get(Metrics.FETCH_BYTES).counter().count()).isEqualTo(bytes);
  }

  @Test
  void unpinnedFilesAreFetchedAndIncludeFiltersApply() throws Exception {
    Path source = TestModels.copy("iris", tmp.resolve("src"));
    Files.writeString(source.resolve("README.md"), "notes\n");
    Path cache = tmp.resolve("cache");
    ModelConfig model =
        TestModels.config(
                cache, "  - name: iris\n    source: file:" + source + "\n    exclude: ['*.md']\n")
            .models()
            .get(0);
    InstalledSnapshot snapshot = fetcher(cache, states("iris")).fetch(model);
    assertThat(snapshot.files())
        .extracting(InstalledSnapshot.InstalledFile::path)
        .containsExactly("config.json", "model.pt");
  }
}
