package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The commented examples of {@code config/} load as printed, and {@code docs/configuration.md} has
 * a row, with its default and environment variable, for every key the loader reads.
 */
class ConfigExamplesTest {
  static final Path CONFIGURATION_MD = Path.of("docs/configuration.md");

  static List<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(Path.of("config"))) {
      return files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
    }
  }

  @Test
  void everyExampleIsReadByVerifyWithoutAConfigError() throws IOException {
    List<Path> examples = examples();
    assertThat(examples)
        .extracting(p -> p.getFileName().toString())
        .contains("modelcache.yaml", "hub.yaml", "offline.yaml", "gpu.yaml");
    for (Path example : examples) {
      CliRun verify = CliRun.of("verify", "--config", example.toString());
      // 0: all cached; 1: some not (nothing was fetched here); 2 would be a config error.
      assertThat(verify.code()).as(example + ": " + verify.err()).isIn(0, 1);
      assertThat(verify.err()).as(example.toString()).doesNotContain("modelcache: ");
      for (String line : (verify.out() + verify.err()).lines().toList()) {
        if (line.startsWith("FAILED")) {
          assertThat(line).as(example.toString()).contains("not in the cache at");
        }
      }
    }
  }

  @Test
  void eachExampleSaysWhatItsNameSays() {
    ConfigLoader loader = new ConfigLoader(Map.of(), Path.of(""));
    Config offline = loader.load(Path.of("config/offline.yaml"));
    assertThat(offline.cache().offline()).isTrue();
    assertThat(offline.models()).extracting(m -> m.source().scheme().name()).contains("HF", "FILE");

    Config gpu = loader.load(Path.of("config/gpu.yaml"));
    assertThat(gpu.models()).extracting(ModelConfig::device).containsExactly("gpu", "gpu:0");
    // The bundled demo models, where the image puts them beside its config folder.
    assertThat(gpu.models().get(0).source().location())
        .isEqualTo(Path.of("models/iris").toAbsolutePath().toString());

    Config hub = loader.load(Path.of("config/hub.yaml"));
    assertThat(hub.models())
        .allSatisfy(m -> assertThat(m.source().scheme().name()).isEqualTo("HF"));
    assertThat(hub.sources().hf().endpoint()).isEqualTo("https://huggingface.co");
  }

  @Test
  void everyConfigKeyHasARowWithItsDefaultAndEnvironmentVariable() throws IOException {
    Set<String> keys = new TreeSet<>();
    ConfigLoader loader = new ConfigLoader(Map.of(), Path.of(""));
    loader.load(null);
    keys.addAll(loader.keysRead());
    for (Path example : examples()) {
      loader.load(example);
      keys.addAll(loader.keysRead());
    }
    assertThat(keys)
        .contains("cache.dir", "server.port", "models[].name", "models[].batch.max_size");

    String doc = Files.readString(CONFIGURATION_MD);
    for (String key : keys) {
      String row =
          doc.lines()
              .filter(line -> line.startsWith("| `" + key + "` |"))
              .findFirst()
              .orElseThrow(
                  () ->
                      new AssertionError(
                          "docs/configuration.md has no row for the config key "
                              + key
                              + ": add '| `"
                              + key
                              + "` | default | env | meaning |' to its Keys table"));
      String[] cells = row.split("(?<!\\\\)\\|");
      assertThat(cells.length).as(row).isGreaterThanOrEqualTo(5);
      assertThat(cells[2].strip()).as("the default of " + key).isNotEmpty();
      if (!key.contains("[]") && !key.equals("models")) {
        String variable = ("MODELCACHE_" + key).replace('.', '_').toUpperCase(Locale.ROOT);
        assertThat(cells[3]).as("the environment variable of " + key).contains(variable);
      }
    }
  }
}
