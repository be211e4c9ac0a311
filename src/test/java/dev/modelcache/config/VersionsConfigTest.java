package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a model's {@code versions:} and {@code canary:} are read and refused. */
class VersionsConfigTest {
  @TempDir Path dir;

  private ModelConfig parse(String model) {
    return new ConfigLoader(Map.of(), dir)
        .parse("models:\n  - name: m\n" + model, "test.yaml", dir)
        .models()
        .get(0);
  }

  @Test
  void defaultsToOneRevisionWithoutCanary() {
    assertThat(parse("    source: hf://org/m\n").versions()).isEqualTo(ModelVersions.ONE);
  }

  @Test
  void readsVersionsAndACanaryOfAHubModel() {
    ModelConfig model =
        parse(
            "    source: hf://org/m@v1\n    versions: 3\n    canary: {revision: v2, weight: 25}\n");
    assertThat(model.versions())
        .isEqualTo(new ModelVersions(3, new ModelVersions.Canary("v2", 25)));
    ModelConfig canary = ModelVersions.canaryOf(model);
    assertThat(canary.source().revision()).isEqualTo("v2");
    assertThat(canary.source().location()).isEqualTo("org/m");
    assertThat(canary.source().text()).isEqualTo("hf://org/m@v2");
    assertThat(parse("    source: hf://org/m\n    canary: {revision: v2}\n").versions().canary())
        .isEqualTo(new ModelVersions.Canary("v2", 10));
  }

  @Test
  void refusesACanaryOutsideTheHub() {
    assertThatThrownBy(() -> parse("    source: file:m\n    canary: {revision: v2}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(
            "test.yaml: models[0].canary only applies to hf:// models (a canary is another Hub"
                + " revision of the same repo); file:m has no revisions to choose from");
  }

  @Test
  void refusesABadWeightAMissingRevisionAndTheModelsOwn() {
    assertThatThrownBy(
            () -> parse("    source: hf://org/m\n    canary: {revision: v2, weight: 101}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("models[0].canary.weight (101) must be between 0 and 100");
    assertThatThrownBy(() -> parse("    source: hf://org/m\n    canary: {weight: 5}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("test.yaml: models[0].canary.revision is missing");
    assertThatThrownBy(() -> parse("    source: hf://org/m@v2\n    canary: {revision: v2}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(
            "test.yaml: models[0].canary.revision 'v2' is the model's own revision");
    assertThatThrownBy(() -> parse("    source: hf://org/m\n    canary: {revision: 'a b'}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("test.yaml: models[0].canary.revision 'a b' is not a Hub revision");
    assertThatThrownBy(() -> parse("    source: hf://org/m\n    versions: 9\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("models[0].versions (9) must be between 1 and 8");
    assertThatThrownBy(
            () -> parse("    source: hf://org/m\n    canary: {revision: v2, wieght: 5}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("unknown key 'models[0].canary.wieght'");
  }
}
