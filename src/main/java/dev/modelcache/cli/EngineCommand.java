package dev.modelcache.cli;

import ai.djl.engine.Engine;
import ai.djl.util.Utils;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache engine}: loads every inference engine on the classpath once and prints what it
 * sees. Loading unpacks the engines' native libraries into {@code DJL_CACHE_DIR}; the image runs it
 * at build time so that containers start without unpacking anything and work on a read-only root
 * file system, and {@code --require-gpu} checks that a CUDA image sees a GPU.
 *
 * <pre>
 * modelcache engine                 # PyTorch 2.7.1: 0 GPU(s), default device cpu(), natives in ...
 * modelcache engine --require-gpu   # exit 1 unless an engine sees a GPU
 * modelcache engine --prune-jar JAR # the image build: drop from JAR the natives now unpacked
 * </pre>
 */
@Command(
    name = "engine",
    description =
        "Load the inference engines (unpacking their native libraries into DJL_CACHE_DIR) and"
            + " print their version, GPUs and native library folder.")
final class EngineCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--require-gpu",
      description = "exit 1 unless an engine sees at least one GPU (checks a CUDA image)")
  boolean requireGpu;

  @Option(
      names = "--prune-jar",
      paramLabel = "JAR",
      description =
          "after loading, remove from JAR (this jar, as the image holds it) the PyTorch and"
              + " tokenizers native libraries just unpacked into DJL_CACHE_DIR: the image keeps"
              + " one copy of them (about 110 MB less); that jar then needs this DJL_CACHE_DIR")
  @Nullable Path pruneJar;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    int failed = 0;
    int gpus = 0;
    for (String name : new TreeSet<>(Engine.getAllEngines())) {
      try {
        if (name.equals("RPC")) {
          continue; // DJL's remote-inference client: no natives, nothing to load
        }
        Engine engine = Engine.getEngine(name);
        gpus += engine.getGpuCount();
        out.printf(
            "%s %s: %d GPU(s), default device %s, natives in %s%n",
            name, engine.getVersion(), engine.getGpuCount(), engine.defaultDevice(), natives(name));
      } catch (RuntimeException | LinkageError e) {
        failed++;
        err.printf(
            "modelcache: engine %s failed to load: %s (check DJL_CACHE_DIR is writable on first"
                + " use, and for CUDA natives PYTORCH_LIBRARY_PATH and PYTORCH_FLAVOR)%n",
            name, e.getMessage());
      }
    }
    out.flush();
    if (failed > 0) {
      return 1;
    }
    if (pruneJar != null) {
      try {
        out.printf("pruned %s: %d native libraries removed%n", pruneJar, prune(pruneJar));
      } catch (IOException e) {
        err.printf("modelcache: cannot prune %s: %s%n", pruneJar, e.getMessage());
        err.flush();
        return 1;
      }
      out.flush();
    }
    if (requireGpu && gpus == 0) {
      err.println(
          "modelcache: no engine sees a GPU: run the CUDA image with the GPU passed in (docker run"
              + " --gpus all, or the compose 'gpu' profile) on a host with the NVIDIA driver");
      err.flush();
      return 1;
    }
    return 0;
  }

  /**
   * Deletes the natives DJL unpacks into its cache (PyTorch's libraries and JNI glue, the
   * tokenizers library) from {@code jar}, keeping the {@code *.properties} files DJL reads to find
   * its cache folder. ONNX Runtime unpacks its own library to a temp folder at each start: kept.
   */
  static int prune(Path jar) throws IOException {
    Predicate<String> unpacked =
        Pattern.compile(
                "/(pytorch/[^/]+/[^/]+/[^/]+\\.(so|dylib|dll)(\\.\\d+)*|jnilib/[^/]+/[^/]+/[^/]+"
                    + "|native/lib/[^/]+/[^/]+/[^/]*tokenizers[^/]*)")
            .asMatchPredicate();
    try (FileSystem zip = FileSystems.newFileSystem(jar)) {
      List<Path> natives;
      try (Stream<Path> entries = Files.walk(zip.getPath("/"))) {
        natives =
            entries.filter(e -> Files.isRegularFile(e) && unpacked.test(e.toString())).toList();
      }
      for (Path entry : natives) {
        Files.delete(entry);
      }
      return natives.size();
    }
  }

  private static String natives(String engine) {
    if (engine.equals(dev.modelcache.inference.Engine.PYTORCH.djlName())) {
      return ai.djl.pytorch.jni.LibUtils.getLibtorchPath();
    }
    return Utils.getEngineCacheDir(engine.toLowerCase(java.util.Locale.ROOT)).toString();
  }
}
