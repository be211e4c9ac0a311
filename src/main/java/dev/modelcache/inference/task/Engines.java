package dev.modelcache.inference.task;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelLoadException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Which DJL engine loads a model, and from which file of its snapshot.
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
  public static final String PYTORCH = "PyTorch";
  public static final String ONNX_RUNTIME = "OnnxRuntime";

  private static final List<String> TORCHSCRIPT = List.of(".pt", ".pth", ".torchscript");
  private static final List<String> ONNX = List.of(".onnx");

  private Engines() {}

  /**
   * The engine and model file of one model.
   *
   * @param engine the DJL engine name ({@code PyTorch} or {@code OnnxRuntime})
   * @param modelFile the file's path relative to the snapshot, with {@code /}
   * @param path the file itself
   */
  public record Choice(String engine, String modelFile, Path path) {}

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
      String engine = wanted.equals("auto") ? engineOf(model, model.modelFile()) : wanted;
      return new Choice(engine, model.modelFile(), path);
    }
    List<String> files = files(snapshotDir);
    List<String> torch = withSuffix(files, TORCHSCRIPT);
    List<String> onnx = withSuffix(files, ONNX);
    String engine;
    if (wanted.equals("auto")) {
      if (torch.isEmpty() && onnx.isEmpty()) {
        throw new ModelLoadException(
            model.name()
                + " - no model file in the snapshot: expected TorchScript (*.pt, *.pth,"
                + " *.torchscript) or ONNX (*.onnx) (files: "
                + String.join(", ", files)
                + "); check the model's include patterns or set model_file");
      }
      engine = torch.isEmpty() ? ONNX_RUNTIME : PYTORCH;
    } else {
      engine = wanted;
    }
    boolean isTorch = engine.equals(PYTORCH);
    List<String> candidates = isTorch ? torch : onnx;
    String file =
        pick(candidates, isTorch ? List.of("model.pt") : List.of("model.onnx", "onnx/model.onnx"));
    if (file == null) {
      String kind =
          isTorch ? "TorchScript file (*.pt, *.pth, *.torchscript)" : "ONNX file (*.onnx)";
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

  private static String engineOf(ModelConfig model, String file) throws ModelLoadException {
    if (!withSuffix(List.of(file), TORCHSCRIPT).isEmpty()) {
      return PYTORCH;
    }
    if (!withSuffix(List.of(file), ONNX).isEmpty()) {
      return ONNX_RUNTIME;
    }
    throw new ModelLoadException(
        model.name()
            + " - cannot tell the engine of model_file '"
            + file
            + "' by its name (*.pt, *.pth, *.torchscript: PyTorch; *.onnx: OnnxRuntime); set engine");
  }

  private static String pick(List<String> candidates, List<String> preferred) {
    for (String name : preferred) {
      if (candidates.contains(name)) {
        return name;
      }
    }
    return candidates.size() == 1 ? candidates.get(0) : null;
  }

  private static List<String> withSuffix(List<String> files, List<String> suffixes) {
    return files.stream()
        .filter(f -> suffixes.stream().anyMatch(s -> f.toLowerCase(Locale.ROOT).endsWith(s)))
        .toList();
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
}
