package dev.modelcache.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class PathPatternsTest {

  @Test
  void noPatternsMatchEverything() {
    assertThat(new PathPatterns(List.of(), List.of()).matches("a/b/c.bin")).isTrue();
  }

  @Test
  void starCrossesFoldersLikeFnmatch() {
    PathPatterns patterns = new PathPatterns(List.of("*.json"), List.of());
    assertThat(patterns.matches("config.json")).isTrue();
    assertThat(patterns.matches("sub/dir/tokenizer.json")).isTrue();
    assertThat(patterns.matches("model.safetensors")).isFalse();
  }

  @Test
  void excludeWinsAndTrailingSlashMeansFolder() {
    PathPatterns patterns = new PathPatterns(List.of("*"), List.of("onnx/", "*.msgpack"));
    assertThat(patterns.matches("onnx/model.onnx")).isFalse();
    assertThat(patterns.matches("flax_model.msgpack")).isFalse();
    assertThat(patterns.matches("model.pt")).isTrue();
  }

  @Test
  void questionMarkAndClasses() {
    PathPatterns patterns =
        new PathPatterns(List.of("model-0000[1-2].bin", "v?.txt", "[!x]y"), List.of());
    assertThat(patterns.matches("model-00001.bin")).isTrue();
    assertThat(patterns.matches("model-00003.bin")).isFalse();
    assertThat(patterns.matches("v1.txt")).isTrue();
    assertThat(patterns.matches("ay")).isTrue();
    assertThat(patterns.matches("xy")).isFalse();
    assertThat(new PathPatterns(List.of("a.b"), List.of()).matches("axb")).isFalse();
  }
}
