package dev.modelcache.cli;

import ai.djl.engine.Engine;
import ai.djl.util.Utils;
import java.io.PrintWriter;
import java.util.TreeSet;
import java.util.concurrent.Callable;
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
    if (requireGpu && gpus == 0) {
      err.println(
          "modelcache: no engine sees a GPU: run the CUDA image with the GPU passed in (docker run"
              + " --gpus all, or the compose 'gpu' profile) on a host with the NVIDIA driver");
      err.flush();
      return 1;
    }
    return 0;
  }

  private static String natives(String engine) {
    if (engine.equals("PyTorch")) {
      return ai.djl.pytorch.jni.LibUtils.getLibtorchPath();
    }
    return Utils.getEngineCacheDir(engine.toLowerCase(java.util.Locale.ROOT)).toString();
  }
}
