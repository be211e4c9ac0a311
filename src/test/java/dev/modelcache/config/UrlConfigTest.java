package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a {@code url} model's {@code files:} are read and refused. */
class UrlConfigTest {
  private static final String SHA = "ab".repeat(32);

  @TempDir Path dir;

  private ModelConfig parse(String model) {
    return new ConfigLoader(Map.of(), dir)
        .parse("models:\n  - name: m\n" + model, "test.yaml", dir)
        .models()
        .get(0);
  }

  private static String file(String item) {
    return "    files:\n      - " + item + "\n";
  }

  @Test
  void readsEachFileWithItsPinAndPath() {
    ModelConfig model =
        parse(
            "    source: url\n    files:\n"
                + "      - {url: 'https://example.com/v1/iris.onnx?sig=x', sha256: "
                + SHA.toUpperCase(java.util.Locale.ROOT)
                + ", path: onnx/model.onnx}\n"
                + "      - {url: 'http://mirror.internal:8000/files/config%20a.json', sha256: "
                + SHA
                + "}\n");
    assertThat(model.source().scheme()).isEqualTo(SourceRef.Scheme.URL);
    assertThat(model.source().text()).isEqualTo("url");
    assertThat(model.source().urls())
        .containsExactly(
            new SourceRef.UrlFile("onnx/model.onnx", "https://example.com/v1/iris.onnx?sig=x"),
            new SourceRef.UrlFile(
                "config a.json", "http://mirror.internal:8000/files/config%20a.json"));
    assertThat(model.source().urls().get(0).shown())
        .isEqualTo("https://example.com/v1/iris.onnx?...");
    assertThat(model.sha256()).isEqualTo(Map.of("onnx/model.onnx", SHA, "config a.json", SHA));
    assertThat(model.requirePins()).isTrue();
  }

  @Test
  void filesWithoutASourceMakeAUrlModel() {
    ModelConfig model = parse(file("{url: 'https://example.com/m.pt', sha256: " + SHA + "}"));
    assertThat(model.source().scheme()).isEqualTo(SourceRef.Scheme.URL);
    assertThat(model.source().url("m.pt")).isPresent();
  }

  @Test
  void aMissingPinIsAnErrorUnlessRequirePinsIsFalse() {
    assertThatThrownBy(() -> parse("    source: url\n" + file("{url: 'https://example.com/m.pt'}")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(
            "test.yaml: models[0].files[0].sha256 is missing: a url file needs its SHA-256 pin");
    ModelConfig trusting =
        parse(
            "    source: url\n    require_pins: false\n"
                + file("{url: 'https://example.com/m.pt'}"));
    assertThat(trusting.sha256()).isEmpty();
    assertThat(trusting.requirePins()).isFalse();
  }

  @Test
  void refusesPathsThatLeaveTheModelsFolderOrCollide() {
    for (String path : List.of("../evil.pt", "/etc/passwd", "a/./b", "a//b", "a\\\\b")) {
      assertThatThrownBy(
              () ->
                  parse(
                      file(
                          "{url: 'https://example.com/m.pt', sha256: "
                              + SHA
                              + ", path: '"
                              + path
                              + "'}")))
          .as(path)
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("models[0].files[0].path '")
          .hasMessageContaining("must be a relative path inside the model's folder");
    }
    assertThatThrownBy(
            () ->
                parse(
                    "    files:\n"
                        + "      - {url: 'https://a.example/m.pt', sha256: "
                        + SHA
                        + ", path: onnx}\n"
                        + "      - {url: 'https://b.example/m.pt', sha256: "
                        + SHA
                        + ", path: onnx/m.pt}\n"))
        .hasMessage(
            "test.yaml: models[0].files[1].path 'onnx/m.pt' collides with 'onnx': every file needs"
                + " its own path");
  }

  @Test
  void refusesUrlsWithCredentialsWithoutEchoingThem() {
    assertThatThrownBy(
            () ->
                parse(file("{url: 'https://user:hunter2@example.com/m.pt', sha256: " + SHA + "}")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("test.yaml: models[0].files[0].url has credentials in it")
        .hasMessageNotContaining("hunter2");
  }

  @Test
  void refusesOtherSchemesAndKeysThatDoNotApply() {
    assertThatThrownBy(() -> parse(file("{url: 'ftp://example.com/m.pt', sha256: " + SHA + "}")))
        .hasMessage(
            "test.yaml: models[0].files[0].url must be an https:// (or, for an internal mirror,"
                + " http://) URL with a host, not 'ftp://example.com/m.pt'");
    assertThatThrownBy(() -> parse(file("{url: 'https://example.com/', sha256: " + SHA + "}")))
        .hasMessageStartingWith(
            "test.yaml: models[0].files[0].path is missing, and the URL's path does not end in a"
                + " file name");
    assertThatThrownBy(
            () ->
                parse(
                    "    source: hf://org/name\n"
                        + file("{url: 'https://example.com/m.pt', sha256: " + SHA + "}")))
        .hasMessage("test.yaml: models[0].files only applies to url models (source: url)");
    assertThatThrownBy(
            () ->
                parse(
                    "    include: ['*.pt']\n"
                        + file("{url: 'https://example.com/m.pt', sha256: " + SHA + "}")))
        .hasMessageStartingWith("test.yaml: models[0].include does not apply to url models");
    assertThatThrownBy(() -> parse("    source: url\n"))
        .hasMessageStartingWith("test.yaml: models[0].files is missing for url model 'm'");
    assertThatThrownBy(
            () -> parse(file("{url: 'https://example.com/m.pt', sha256: " + SHA + ", sha: x}")))
        .hasMessageStartingWith("test.yaml: unknown key 'models[0].files[0].sha'");
  }
}
