package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.engine.Engine;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.InstalledSnapshot;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/** Loads a model into its DJL engine: which file of the snapshot, which device, which engine. */
final class Engines {
  private Engines() {}

  /** The Open Inference Protocol's platform name of an engine's models. */
  static String platform(String engine) {
    return switch (engine) {
      case "PyTorch" -> "pytorch_torchscript";
      case "OnnxRuntime" -> "onnxruntime_onnx";
      default -> engine.toLowerCase(Locale.ROOT);
    };
  }

  /**
   * The device of {@code device: auto | cpu | gpu | gpu:N}: auto is the first GPU when the engine
   * sees one, else the CPU; a GPU the engine does not see fails the load.
   */
  static Device device(ModelConfig model, String engine) throws ModelLoadException {
    String wanted = model.device();
    if (wanted.equals("cpu")) {
      return Device.cpu();
    }
    int gpus = Engine.getEngine(engine).getGpuCount();
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
              + engine
              + " sees "
              + gpus
              + " GPU(s); use device: auto or cpu, or run with the CUDA natives (see docs/gpu.md)");
    }
    return Device.gpu(index);
  }

  /** Loads the model file with the task's translator. */
  static <I, O> ZooModel<List<I>, List<O>> load(
      ModelConfig model,
      InstalledSnapshot snapshot,
      String file,
      String engine,
      Device device,
      Task<I, O> task)
      throws ModelLoadException {
    Criteria<List<I>, List<O>> criteria =
        Criteria.builder()
            .setTypes(Engines.<I>listOf(), Engines.<O>listOf())
            .optEngine(engine)
            .optDevice(device)
            .optModelPath(snapshot.dir().resolve(file))
            .optTranslator(task.translator())
            .build();
    try {
      return criteria.loadModel();
    } catch (ModelNotFoundException | MalformedModelException | IOException | RuntimeException e) {
      throw new ModelLoadException(
          model.name()
              + " - "
              + engine
              + " could not load "
              + file
              + " on "
              + device
              + ": "
              + ModelRegistry.firstLine(e),
          e);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T> Class<List<T>> listOf() {
    return (Class<List<T>>) (Class<?>) List.class;
  }
}
