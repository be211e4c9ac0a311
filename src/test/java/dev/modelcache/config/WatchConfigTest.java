package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model's {@code watch:}: its interval, and the models it is refused on. */
class WatchConfigTest {
  @TempDir Path dir;

  private ModelConfig model(String lines) {
    return new ConfigLoader(Map.of(), dir)
        .parse("models:\n  - name: iris\n" + lines, "test.yaml", dir)
        .models()
        .get(0);
  }

  @Test
  void readsTheIntervalInAnyUnit() {
    assertThat(model("    source: hf://org/iris\n    watch: {interval: 10m}\n").watch())
        .isEqualTo(new WatchConfig(Duration.ofMinutes(10)));
    assertThat(model("    source: hf://org/iris@v1\n    watch: {interval: 1s}\n").watch())
        .isEqualTo(new WatchConfig(Duration.ofSeconds(1)));
    assertThat(model("    source: s3://bucket/iris\n    watch: {interval: 2h}\n").watch())
        .isEqualTo(new WatchConfig(Duration.ofHours(2)));
    assertThat(model("    source: hf://org/iris\n    watch: {}\n").watch())
        .isEqualTo(new WatchConfig(Duration.ofMinutes(10)));
    assertThat(model("    source: hf://org/iris\n").watch()).isNull();
  }

  @Test
  void rejectsABadIntervalAndUnknownKeys() {
    assertThatThrownBy(() -> model("    source: hf://org/iris\n    watch: {interval: 500ms}\n"))
        .hasMessage("test.yaml: models[0].watch.interval must be between 1s and 7d, not '500ms'");
    assertThatThrownBy(() -> model("    source: hf://org/iris\n    watch: {interval: soon}\n"))
        .hasMessage(
            "test.yaml: models[0].watch.interval must be a duration such as 30s, 10m or 1h (units"
                + " ms, s, m, h, d), not 'soon'");
    assertThatThrownBy(() -> model("    source: hf://org/iris\n    watch: {every: 1m}\n"))
        .hasMessageContaining("unknown key 'models[0].watch.every'");
    assertThatThrownBy(() -> model("    source: hf://org/iris\n    watch: 10m\n"))
        .hasMessageContaining("models[0].watch must be a mapping");
  }

  @Test
  void refusesWatchOnAModelThatNeverMovesByItself() {
    String commit = "0123456789abcdef0123456789abcdef01234567";
    assertThatThrownBy(
            () -> model("    source: hf://org/iris@" + commit + "\n    watch: {interval: 1m}\n"))
        .hasMessage(
            "test.yaml: models[0].watch cannot watch model 'iris': its source is pinned to commit "
                + commit
                + ", which never moves; remove watch: or the pin");
    assertThatThrownBy(() -> model("    source: file:models/iris\n    watch: {}\n"))
        .hasMessageContaining("cannot watch model 'iris': a file: source has no branch to follow");
    assertThatThrownBy(
            () ->
                model(
                    "    source: hf://org/iris\n    watch: {}\n    sha256: {model.pt: "
                        + "a".repeat(64)
                        + "}\n"))
        .hasMessageContaining("cannot watch model 'iris': its sha256 pins hold it");
    assertThatThrownBy(
            () ->
                model(
                    "    source: s3://bucket/iris\n    watch: {}\n    version_ids: {model.pt: v1}\n"))
        .hasMessageContaining("cannot watch model 'iris': its version_ids hold it");
  }
}
