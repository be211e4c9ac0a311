package dev.modelcache.inference.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.inference.Engines;
import dev.modelcache.inference.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EnginesTest {
  @TempDir Path dir;

  private void files(String... paths) throws IOException {
    for (String path : paths) {
      Files.createDirectories(dir.resolve(path).getParent());
      Files.writeString(dir.resolve(path), "x");
    }
  }

  private Engines.Choice resolve(String yaml) throws ModelLoadException {
    return Engines.resolve(TaskModels.config("m", dir, yaml), dir);
  }

  @Test
  void anOnnxFileMeansOnnxRuntime() throws Exception {
    files("config.json", "onnx/model.onnx", "onnx/model_quantized.onnx", "pytorch_model.bin");
    Engines.Choice choice = resolve("");
    assertThat(choice.engine()).isEqualTo("OnnxRuntime");
    assertThat(choice.modelFile()).isEqualTo("onnx/model.onnx");
    assertThat(choice.path()).isEqualTo(dir.resolve("onnx/model.onnx"));
  }

  @Test
  void aTorchScriptFileMeansPyTorchAndWinsOverOnnxUnlessTheEngineIsNamed() throws Exception {
    files("weights.pt", "model.onnx");
    assertThat(resolve(""))
        .extracting(Engines.Choice::engine, Engines.Choice::modelFile)
        .containsExactly("PyTorch", "weights.pt");
    assertThat(resolve("engine: onnxruntime"))
        .extracting(Engines.Choice::engine, Engines.Choice::modelFile)
        .containsExactly("OnnxRuntime", "model.onnx");
  }

  @Test
  void theCommittedColorsModelLoadsInOnnxRuntime() throws Exception {
    Path colors = TaskModels.MODELS.resolve("colors");
    Engines.Choice choice =
        Engines.resolve(TaskModels.config("colors", colors, "task: image-classification"), colors);
    assertThat(choice.engine()).isEqualTo("OnnxRuntime");
    assertThat(choice.modelFile()).isEqualTo("model.onnx");
  }

  @Test
  void modelFileNamesTheFileAndItsSuffixTheEngine() throws Exception {
    files("a.onnx", "b.onnx", "c.bin");
    assertThat(resolve("model_file: b.onnx").modelFile()).isEqualTo("b.onnx");
    assertThat(resolve("model_file: b.onnx").engine()).isEqualTo("OnnxRuntime");
    assertThat(resolve("model_file: c.bin\nengine: PyTorch").engine()).isEqualTo("PyTorch");
    assertThatThrownBy(() -> resolve("model_file: c.bin"))
        .hasMessage(
            "m - cannot tell the engine of model_file 'c.bin' by its name (*.pt, *.pth,"
                + " *.torchscript: PyTorch; *.onnx: OnnxRuntime); set engine");
    assertThatThrownBy(() -> resolve("model_file: d.onnx"))
        .hasMessage(
            "m - model_file 'd.onnx' is not in the snapshot (files: a.onnx, b.onnx, c.bin)");
  }

  @Test
  void severalCandidatesWithoutAPreferredNameAskForModelFile() throws Exception {
    files("a.onnx", "b.onnx");
    assertThatThrownBy(() -> resolve(""))
        .isInstanceOf(ModelLoadException.class)
        .hasMessage(
            "m - several ONNX files (*.onnx) [a.onnx, b.onnx]; set model_file to the one to load"
                + " (files: a.onnx, b.onnx)");
  }

  @Test
  void noModelFileNamesWhatWasExpected() throws Exception {
    files("config.json");
    assertThatThrownBy(() -> resolve(""))
        .hasMessage(
            "m - no model file in the snapshot: expected TorchScript (*.pt, *.pth, *.torchscript)"
                + " or ONNX (*.onnx) (files: config.json); check the model's include patterns or"
                + " set model_file");
    assertThatThrownBy(() -> resolve("engine: PyTorch"))
        .hasMessage(
            "m - engine PyTorch needs a TorchScript file (*.pt, *.pth, *.torchscript), and the"
                + " snapshot has none (files: config.json)");
  }
}
