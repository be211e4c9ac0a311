package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code modelcache config check}: every error of a config at once, each with file and line. */
class ConfigCheckTest {
  @TempDir Path tmp;

  @Test
  void reportsEveryErrorWithFileAndLineAndExitsOne() throws Exception {
    Path file = tmp.resolve("bad.yaml");
    Files.writeString(
        file,
        String.join(
            "\n",
            "cache:", // 1
            "  dir: cache", // 2
            "  verify: sometimes", // 3
            "  colour: blue", // 4
            "server:", // 5
            "  port: eighty", // 6
            "models:", // 7
            "  - name: iris", // 8
            "    source: file:models/iris", // 9
            "    engine: TensorFlow", // 10
            "    workers: 0", // 11
            "    sha256: { model.pt: abc }", // 12
            "  - source: hf://org/repo", // 13
            "  - name: iris", // 14
            "    source: ftp://example.com/x", // 15
            "  - name: ok", // 16
            "    source: file:models/ok", // 17
            "    batch: { max_size: 5000 }", // 18
            "  - name: ok", // 19
            "    source: file:models/ok2", // 20
            "extra: 1", // 21
            ""));
    CliRun run = CliRun.of("config", "check", "-c", file.toString());
    String f = file.toString();
    assertThat(run.code()).as(run.err()).isEqualTo(1);
    assertThat(run.out()).isEmpty();
    assertThat(run.err().lines())
        .containsExactly(
            f + ":3: cache.verify must be one of fast, full, not 'sometimes'",
            f
                + ":4: unknown key 'cache.colour' (allowed under cache: dir, offline, verify, max_bytes)",
            f + ":6: server.port must be a whole number, not 'eighty'",
            f
                + ":10: models[0].engine must be one of auto, PyTorch, OnnxRuntime, not"
                + " 'TensorFlow'",
            f + ":11: models[0].workers (0) must be between 1 and 64",
            f + ":12: models[0].sha256.model.pt must be 64 hex digits (a SHA-256), not 'abc'",
            f + ":13: models[1].name is missing: every model needs a URL-safe name",
            f
                + ":15: models[2].source 'ftp://example.com/x' has an unknown scheme: use"
                + " file:<dir>, hf://org/name[@revision], s3://bucket/prefix,"
                + " gs://bucket/prefix, az://account/container/prefix,"
                + " oci://registry/repository[:tag|@sha256:digest] or url (with files:)",
            f + ":18: models[3].batch.max_size (5000) must be between 1 and 1024",
            f + ":19: model name 'ok' is used twice; names must be unique",
            f
                + ":21: unknown key 'extra' (allowed at the top: cache, sources, server,"
                + " verification, models)",
            f + ": 11 errors; fix them and run 'modelcache config check' again");
  }

  @Test
  void aValidConfigPrintsAOneLineSummaryAndExitsZero() {
    CliRun run = CliRun.of("config", "check", "-c", "config/modelcache.yaml");
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.err()).isEmpty();
    assertThat(run.out())
        .isEqualTo(
            "config/modelcache.yaml: valid: 2 models (iris, digits), cache "
                + Path.of("data").toAbsolutePath()
                + ", port 8080\n");
  }

  @Test
  void withoutAFileItChecksTheEmbeddedDefault() {
    CliRun run = CliRun.of("config", "check");
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .isEqualTo(
            "embedded default config: valid: 2 models (iris, digits), cache "
                + Path.of("data").toAbsolutePath()
                + ", port 8080\n");
  }

  @Test
  void everyExampleUnderConfigIsValid() throws Exception {
    for (Path example : ConfigExamplesTest.examples()) {
      CliRun run = CliRun.of("config", "check", "--config", example.toString());
      assertThat(run.code()).as(example + ": " + run.err()).isZero();
      assertThat(run.out()).startsWith(example + ": valid: ");
    }
  }

  @Test
  void yamlThatDoesNotParseIsReportedWithItsLine() throws Exception {
    Path file = tmp.resolve("broken.yaml");
    Files.writeString(file, "cache:\n  dir: x\nmodels: [\n  - name: a\n");
    CliRun run = CliRun.of("config", "check", "-c", file.toString());
    assertThat(run.code()).isEqualTo(1);
    assertThat(run.err())
        .isEqualTo(
            file
                + ":4: not valid YAML: expected the node content, but found '-'\n"
                + file
                + ": 1 error; fix it and run 'modelcache config check' again\n");
  }

  @Test
  void aMissingFileIsOneErrorThatSaysWhatToDo() {
    Path file = tmp.resolve("nope.yaml");
    CliRun run = CliRun.of("config", "check", "-c", file.toString());
    assertThat(run.code()).isEqualTo(1);
    assertThat(run.err())
        .isEqualTo(file + ": config file not found (give --config a path to a YAML file)\n");
  }

  @Test
  void reportsVariablesWithoutALineAndEveryIndependentErrorOfOneModel() {
    String yaml =
        String.join(
            "\n",
            "models:", // 1
            "  - name: a", // 2
            "    source: file:a", // 3
            "    engin: PyTorch", // 4
            "    workers: 0", // 5
            "    device: tpu", // 6
            "");
    ConfigCheck.Result result =
        new ConfigCheck(Map.of("MODELCACHE_SERVER_PORT", "x", "MODELCACHE_BOGUS", "1"))
            .check(yaml, "f.yaml", tmp);
    assertThat(result.config()).isNull();
    assertThat(result.problems())
        .extracting(ConfigCheck.Problem::line)
        .containsExactly(0, 0, 4, 5, 6);
    List<String> messages = result.problems().stream().map(ConfigCheck.Problem::message).toList();
    assertThat(messages.get(0))
        .isEqualTo(
            "environment variable MODELCACHE_SERVER_PORT: server.port must be a whole number,"
                + " not 'x'");
    assertThat(messages.get(1))
        .startsWith("environment variable MODELCACHE_BOGUS is not a modelcache setting (known: ")
        .endsWith("); unset it or fix its name");
    assertThat(messages.subList(2, 5))
        .containsExactly(
            "f.yaml:4: unknown key 'models[0].engin' (allowed under models[0]: name, source,"
                + " repo_type, files, include, exclude, sha256, engine, model_file, task, task_options,"
                + " device, workers, batch, queue, timeout_ms, load, required, require_pins,"
                + " version_ids, watch, s3, versions, canary)",
            "f.yaml:5: models[0].workers (0) must be between 1 and 64",
            "f.yaml:6: models[0].device must be auto, cpu, gpu or gpu:N, not 'tpu'");
  }

  @Test
  void aValidTextGivesTheConfigAndNoProblem() {
    ConfigCheck.Result result =
        new ConfigCheck(Map.of()).check("models:\n  - name: a\n    source: file:a\n", "f", tmp);
    assertThat(result.problems()).isEmpty();
    assertThat(result.config().models()).extracting(m -> m.name()).containsExactly("a");
  }

  @Test
  void anEmptyFileIsAValidConfigWithoutModels() {
    ConfigCheck.Result result = new ConfigCheck(Map.of()).check("", "empty.yaml", tmp);
    assertThat(result.problems()).isEmpty();
    assertThat(result.config().models()).isEmpty();
  }

  @Test
  void aListAtTheTopIsOneError() {
    ConfigCheck.Result result = new ConfigCheck(Map.of()).check("- a\n- b\n", "list.yaml", tmp);
    assertThat(result.problems())
        .extracting(ConfigCheck.Problem::message)
        .containsExactly("list.yaml:1: the top level must be a mapping of keys, not a list");
  }
}
