package dev.modelcache.inference;

import ai.djl.pytorch.jni.JniUtils;
import ai.djl.repository.zoo.Criteria;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives a model's engine its intra-op threads ({@code server.engine_threads}) as it loads: an ONNX
 * Runtime session has its own pool, sized by the session option {@code intraOpNumThreads}; libtorch
 * has one pool for the whole process, sized by {@code at::set_num_threads} before the load (each
 * thread that runs a pass takes the count up on its first parallel operation).
 *
 * <pre>{@code
 * EngineThreads.apply(choice.kind(), model.threads(), builder);
 * }</pre>
 *
 * <p>Left at their defaults, both engines size a pass's pool by the cores, while {@code workers}
 * already run passes side by side: their threads then outnumber the cores and spin waiting for
 * work.
 */
final class EngineThreads {
  private static final Logger log = LoggerFactory.getLogger(EngineThreads.class);

  private EngineThreads() {}

  /** Sizes the pool of {@code kind} that a load by {@code builder} runs its passes on. */
  static void apply(Engine kind, int threads, Criteria.Builder<?, ?> builder) {
    switch (kind) {
      case ONNX_RUNTIME -> builder.optOption("intraOpNumThreads", Integer.toString(threads));
      case PYTORCH -> setPyTorch(threads);
    }
  }

  /** libtorch's intra-op threads now (loads the engine when it is not yet). */
  static int pyTorch() {
    ai.djl.engine.Engine.getEngine(Engine.PYTORCH.djlName());
    return JniUtils.getNumThreads();
  }

  private static synchronized void setPyTorch(int threads) {
    int before = pyTorch();
    if (before != threads) {
      JniUtils.setNumThreads(threads);
      log.info("PyTorch intra-op threads: {} (server.engine_threads; was {})", threads, before);
    }
  }
}
