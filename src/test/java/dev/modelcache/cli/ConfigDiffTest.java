package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.Lockfile;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a reloaded config changes, as the reloader decides it. */
class ConfigDiffTest {
  private static final String MODELS =
      "models:\n"
          + "  - name: iris\n    source: file:models/iris\n"
          + "  - name: digits\n    source: file:models/digits\n";

  @TempDir Path dir;

  private Config parse(String yaml, Map<String, String> env) {
    return new ConfigLoader(env, dir).parse(yaml, "test.yaml", dir);
  }

  private ConfigDiff diff(String before, String after) {
    return ConfigDiff.of(
        parse(before, Map.of()), Lockfile.empty(), parse(after, Map.of()), Lockfile.empty());
  }

  @Test
  void theSameConfigChangesNothing() {
    ConfigDiff diff = diff(MODELS, MODELS);
    assertThat(diff.fixed()).isEmpty();
    assertThat(diff.modelsUnchanged()).isTrue();
  }

  @Test
  void namesEverySettingThatNeedsARestartAsTheYamlSpellsIt() {
    ConfigDiff diff =
        diff(
            MODELS,
            "server:\n  port: 9090\n  auth:\n    token_env: OTHER\n    metrics: true\n"
                + "  limits:\n    max_items: 10\n"
                + "cache:\n  offline: true\n"
                + MODELS);
    assertThat(diff.fixed())
        .containsExactlyInAnyOrder(
            "server.port",
            "server.auth.token_env",
            "server.auth.metrics",
            "server.limits.max_items",
            "cache.offline");
    assertThat(diff(MODELS, "server:\n  engine_threads: 3\n" + MODELS).fixed())
        .containsExactly("server.engine_threads");
    assertThat(diff.modelsUnchanged()).isTrue();
  }

  @Test
  void tellsModelsAddedRemovedAndChanged() {
    ConfigDiff diff =
        diff(
            MODELS,
            "models:\n"
                + "  - name: iris\n    source: file:models/iris\n    workers: 2\n"
                + "  - name: colors\n    source: file:models/colors\n");
    assertThat(diff.added()).extracting(ModelConfig::name).containsExactly("colors");
    assertThat(diff.removed()).containsExactly("digits");
    assertThat(diff.changed()).extracting(ModelConfig::name).containsExactly("iris");
    assertThat(diff.fixed()).isEmpty();
  }

  @Test
  void aModelWhoseAutoThreadsMovedIsNotChanged() {
    // auto shares the cores among every model's workers: another model's workers move it
    Config next = parse(MODELS, Map.of());
    Config old =
        new Config(
            next.origin(),
            next.baseDir(),
            next.cache(),
            next.sources(),
            next.server(),
            next.models().stream().map(m -> m.withThreads(m.threads() + 7)).toList(),
            next.verification());
    ConfigDiff diff = ConfigDiff.of(old, Lockfile.empty(), next, Lockfile.empty());
    assertThat(diff.modelsUnchanged()).isTrue();
    assertThat(diff.fixed()).isEmpty();
  }

  @Test
  void aNewLockfileEntryChangesTheModel() {
    Config config = parse(MODELS, Map.of());
    Lockfile locked =
        Lockfile.empty()
            .with(
                "iris",
                new Lockfile.Locked(
                    "file:models/iris",
                    "0123456789abcdef0123456789abcdef01234567",
                    List.of(new Lockfile.LockedFile("model.pt", 3, "a".repeat(64), null, null))));
    ConfigDiff diff = ConfigDiff.of(config, Lockfile.empty(), config, locked);
    assertThat(diff.changed()).extracting(ModelConfig::name).containsExactly("iris");
    assertThat(diff.added()).isEmpty();
    assertThat(diff.removed()).isEmpty();
  }
}
