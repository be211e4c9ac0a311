package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

  @Test
  void pruneJarDropsTheNativesDjlUnpacksAndKeepsTheRest(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    Path jar = tmp.resolve("app.jar");
    List<String> kept =
        List.of(
            "native/lib/pytorch.properties",
            "native/lib/tokenizers.properties",
            "jnilib/pytorch.properties",
            "pytorch/cpu/linux-x86_64/pytorch.properties",
            "ai/onnxruntime/native/linux-x64/libonnxruntime.so",
            "dev/modelcache/cli/Main.class");
    List<String> pruned =
        List.of(
            "pytorch/cpu/linux-x86_64/libtorch_cpu.so",
            "pytorch/cpu/linux-x86_64/libgomp-98b21ff3.so.1",
            "jnilib/linux-x86_64/cpu/libdjl_torch.so",
            "native/lib/linux-x86_64/cpu/libtokenizers.so");
    try (java.util.zip.ZipOutputStream zip =
        new java.util.zip.ZipOutputStream(Files.newOutputStream(jar))) {
      for (String name : concat(kept, pruned)) {
        zip.putNextEntry(new java.util.zip.ZipEntry(name));
        zip.write(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        zip.closeEntry();
      }
    }
    assertThat(EngineCommand.prune(jar)).isEqualTo(pruned.size());
    List<String> left = new java.util.ArrayList<>();
    try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(jar.toFile())) {
      zip.stream().filter(e -> !e.isDirectory()).forEach(e -> left.add(e.getName()));
    }
    assertThat(left).containsExactlyInAnyOrderElementsOf(kept);
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new java.util.ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}
