package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.InstalledSnapshot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Which {@link Engine} loads a model, from which file of its snapshot, and the load itself.
 *
 * <pre>{@code
 * Engines.Choice choice = Engines.resolve(modelConfig, snapshotDir);
 * Criteria.builder().optEngine(choice.engine()).optModelPath(choice.path())...
 * }</pre>
 *
 * <p>{@code model_file} names the file outright. Otherwise the snapshot's files are searched:
 * TorchScript ({@code *.pt}, {@code *.pth}, {@code *.torchscript}) for PyTorch, {@code *.onnx} for
 * OnnxRuntime. With {@code engine: auto} the kind of file found decides, PyTorch when both are
 * there. Of several files of the engine's kind, {@code model.pt} or {@code model.onnx} (then {@code
 * onnx/model.onnx}) is taken; otherwise the choice is left to {@code model_file}.
 */
public final class Engines {
  private Engines() {}

  /**
   * The engine and model file of one model.
   *
   * @param kind the engine
   * @param modelFile the file's path relative to the snapshot, with {@code /}
   * @param path the file itself
   */
  public record Choice(Engine kind, String modelFile, Path path) {
    /** The DJL engine name ({@code PyTorch} or {@code OnnxRuntime}). */
    public String engine() {
      return kind.djlName();
    }
  }

  /** The Open Inference Protocol's platform name of an engine's models. */
  static String platform(String engine) {
    Engine known = Engine.named(engine);
    return known != null ? known.platform() : engine.toLowerCase(Locale.ROOT);
  }

  /**
   * Picks the engine and model file of {@code model} in its installed snapshot {@code snapshotDir}.
   *
   * @throws ModelLoadException when no file fits, or several do and none is preferred; the message
   *     lists the files and says which key to set
   */
  public static Choice resolve(ModelConfig model, Path snapshotDir) throws ModelLoadException {
    String wanted = model.engine();
    if (model.modelFile() != null) {
      Path path = snapshotDir.resolve(model.modelFile()).normalize();
      if (!path.startsWith(snapshotDir.normalize()) || !Files.isRegularFile(path)) {
        throw new ModelLoadException(
            model.name()
                + " - model_file '"
                + model.modelFile()
                + "' is not in the snapshot (files: "
                + String.join(", ", files(snapshotDir))
                + ")");
      }
      Engine engine = wanted.equals("auto") ? engineOf(model, model.modelFile()) : named(wanted);
      return new Choice(engine, model.modelFile(), path);
    }
    List<String> files = files(snapshotDir);
    Engine engine;
    if (wanted.equals("auto")) {
      if (files.stream().noneMatch(f -> Engine.ofFile(f) != null)) {
        throw new ModelLoadException(
            model.name()
                + " - no model file in the snapshot: expected TorchScript (*.pt, *.pth,"
                + " *.torchscript) or ONNX (*.onnx) (files: "
                + String.join(", ", files)
                + "); check the model's include patterns or set model_file");
      }
      engine =
          files.stream().anyMatch(Engine.PYTORCH::loads) ? Engine.PYTORCH : Engine.ONNX_RUNTIME;
    } else {
      engine = named(wanted);
    }
    List<String> candidates = files.stream().filter(engine::loads).toList();
    String file = pick(candidates, engine.preferred());
    if (file == null) {
      String kind = engine.fileKind();
      throw new ModelLoadException(
          model.name()
              + " - "
              + (candidates.isEmpty()
                  ? "engine " + engine + " needs a " + kind + ", and the snapshot has none"
                  : "several "
                      + kind.replace("file", "files")
                      + " "
                      + candidates
                      + "; set model_file to the one to load")
              + " (files: "
              + String.join(", ", files)
              + ")");
    }
    return new Choice(engine, file, snapshotDir.resolve(file));
  }

  private static Engine engineOf(ModelConfig model, String file) throws ModelLoadException {
    Engine engine = Engine.ofFile(file);
    if (engine != null) {
      return engine;
    }
    throw new ModelLoadException(
        model.name()
            + " - cannot tell the engine of model_file '"
            + file
            + "' by its name (*.pt, *.pth, *.torchscript: PyTorch; *.onnx: OnnxRuntime); set engine");
  }

  /** The engine {@code wanted} names: the config accepts only an engine's name or "auto". */
  private static Engine named(String wanted) {
    return Objects.requireNonNull(Engine.named(wanted), () -> "no engine " + wanted);
  }

  private static @Nullable String pick(List<String> candidates, List<String> preferred) {
    for (String name : preferred) {
      if (candidates.contains(name)) {
        return name;
      }
    }
    return candidates.size() == 1 ? candidates.get(0) : null;
  }

  /** The snapshot's files (links to blobs followed), relative, with {@code /}, sorted. */
  private static List<String> files(Path snapshotDir) throws ModelLoadException {
    try (Stream<Path> walk = Files.walk(snapshotDir)) {
      List<String> files = new ArrayList<>();
      walk.filter(Files::isRegularFile)
          .map(p -> snapshotDir.relativize(p).toString().replace('\\', '/'))
          .sorted()
          .forEach(files::add);
      return files;
    } catch (IOException | UncheckedIOException e) {
      throw new ModelLoadException(
          "cannot list the snapshot " + snapshotDir + ": " + e.getMessage(), e);
    }
  }

  /** Loads the model file of {@code choice} on {@code device} with the task's translator. */
  static <I, O> ZooModel<List<I>, List<O>> load(
      ModelConfig model, InstalledSnapshot snapshot, Choice choice, Device device, Task<I, O> task)
      throws ModelLoadException {
    String file = choice.modelFile();
    Criteria.Builder<List<I>, List<O>> builder =
        Criteria.builder()
            .setTypes(Engines.<I>listOf(), Engines.<O>listOf())
            .optEngine(choice.engine())
            .optDevice(device)
            .optModelPath(snapshot.dir().resolve(file))
            .optTranslator(task.translator());
    try {
      EngineThreads.apply(choice.kind(), model.threads(), builder);
      return builder.build().loadModel();
    } catch (ModelNotFoundException | MalformedModelException | IOException | RuntimeException e) {
      throw new ModelLoadException(
          model.name()
              + " - "
              + choice.engine()
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
