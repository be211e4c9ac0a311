package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import org.junit.jupiter.api.Test;

/** {@code modelcache engine}, which the image runs at build time to unpack the natives. */
class EngineCommandTest {
  @Test
  void loadsPyTorchAndSaysWhereItsNativesAre() {
    CliRun run = CliRun.of("engine");
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .containsPattern(
            "(?m)^PyTorch 2\\.7\\.1: \\d+ GPU\\(s\\), default device \\S+, natives in \\S+")
        .doesNotContain("RPC");
  }

  @Test
  void requireGpuFailsWithWhatToDoWhenNoGpuIsVisible() {
    int gpus = Engine.getEngine("PyTorch").getGpuCount();
    CliRun run = CliRun.of("engine", "--require-gpu");
    if (gpus > 0) {
      assertThat(run.code()).isZero();
      return;
    }
    assertThat(run.code()).isEqualTo(1);
    assertThat(run.err())
        .isEqualTo(
            "modelcache: no engine sees a GPU: run the CUDA image with the GPU passed in (docker run"
                + " --gpus all, or the compose 'gpu' profile) on a host with the NVIDIA driver"
                + System.lineSeparator());
  }
}
