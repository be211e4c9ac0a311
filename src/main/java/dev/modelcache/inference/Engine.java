package dev.modelcache.inference;

import ai.djl.Device;
import dev.modelcache.config.ModelConfig;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The DJL engines modelcache serves models with: each one's name, the model files it loads and the
 * device it runs them on.
 *
 * <pre>{@code
 * Engine engine = Engine.named(modelConfig.engine()); // "PyTorch" -> PYTORCH
 * Device device = engine.device(modelConfig);
 * }</pre>
 */
public enum Engine {
  /** TorchScript files ({@code *.pt}, {@code *.pth}, {@code *.torchscript}). */
  PYTORCH(
      "PyTorch",
      "pytorch_torchscript",
      List.of(".pt", ".pth", ".torchscript"),
      List.of("model.pt"),
      "TorchScript file (*.pt, *.pth, *.torchscript)"),
  /** ONNX graphs ({@code *.onnx}). */
  ONNX_RUNTIME(
      "OnnxRuntime",
      "onnxruntime_onnx",
      List.of(".onnx"),
      List.of("model.onnx", "onnx/model.onnx"),
      "ONNX file (*.onnx)");

  private final String djlName;
  private final String platform;

  @SuppressWarnings("ImmutableEnumChecker") // List.copyOf: unmodifiable
  private final List<String> suffixes;

  @SuppressWarnings("ImmutableEnumChecker") // List.copyOf: unmodifiable
  private final List<String> preferred;

  private final String fileKind;

  Engine(
      String djlName,
      String platform,
      List<String> suffixes,
      List<String> preferred,
      String fileKind) {
    this.djlName = djlName;
    this.platform = platform;
    this.suffixes = List.copyOf(suffixes);
    this.preferred = List.copyOf(preferred);
    this.fileKind = fileKind;
  }

  /** The engine's DJL name, as the config spells it: {@code PyTorch}, {@code OnnxRuntime}. */
  public String djlName() {
    return djlName;
  }

  /** The Open Inference Protocol's platform name of the engine's models. */
  public String platform() {
    return platform;
  }

  /** Whether {@code file} (a path) is a model file of this engine, by its suffix. */
  public boolean loads(String file) {
    String lower = file.toLowerCase(Locale.ROOT);
    return suffixes.stream().anyMatch(lower::endsWith);
  }

  /** The file names taken first when the snapshot holds several files of this engine. */
  List<String> preferred() {
    return preferred;
  }

  /** What the engine's model file is, for messages: {@code ONNX file (*.onnx)}. */
  String fileKind() {
    return fileKind;
  }

  /** The engine of DJL name {@code djlName} ({@code PyTorch}, ...), or null for another. */
  public static @Nullable Engine named(String djlName) {
    for (Engine engine : values()) {
      if (engine.djlName.equals(djlName)) {
        return engine;
      }
    }
    return null;
  }

  /** The engine whose model files have {@code file}'s suffix, or null for none. */
  static @Nullable Engine ofFile(String file) {
    for (Engine engine : values()) {
      if (engine.loads(file)) {
        return engine;
      }
    }
    return null;
  }

  /**
   * The device of {@code device: auto | cpu | gpu | gpu:N}: auto is the first GPU when the engine
   * sees one, else the CPU; a GPU the engine does not see fails the load.
   */
  Device device(ModelConfig model) throws ModelLoadException {
    String wanted = model.device();
    if (wanted.equals("cpu")) {
      return Device.cpu();
    }
    int gpus = ai.djl.engine.Engine.getEngine(djlName).getGpuCount();
    if (wanted.equals("auto")) {
      return gpus == 0 ? Device.cpu() : Device.gpu(0);
    }
    int index = wanted.equals("gpu") ? 0 : Integer.parseInt(wanted.substring("gpu:".length()));
    if (index >= gpus) {
      throw new ModelLoadException(
          model.name()
              + " - device "
              + wanted
              + " asked for, but "
              + djlName
              + " sees "
              + gpus
              + " GPU(s); use device: auto or cpu, or run with the CUDA natives (see docs/gpu.md)");
    }
    return Device.gpu(index);
  }

  @Override
  public String toString() {
    return djlName;
  }
}
