package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.task.BuiltInTasks;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.FileSource;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code server.engine_threads} reaches the engines through real loads: libtorch's process-wide
 * intra-op count, as {@code at::get_num_threads} reads it, and an ONNX Runtime session's own pool,
 * counted as the native threads the session starts (they take the name of the thread that loads):
 * none for 1 thread, a pool for 4 (3 or 4 threads with ONNX Runtime 1.21.1).
 */
class EngineThreadsTest {
  @TempDir Path tmp;
  private final ObjectMapper json = new ObjectMapper();
  private final Metrics metrics = new Metrics(new SimpleMeterRegistry());

  private ModelConfig config(String name, Path dir, int threads) {
    return TestModels.config(
            tmp.resolve("cache"), "  - {name: " + name + ", source: 'file:" + dir + "'}\n")
        .models()
        .get(0)
        .withThreads(threads);
  }

  private InstalledSnapshot fetch(ModelConfig model, ModelStates states) throws Exception {
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(tmp.resolve("cache")),
            Map.of(SourceRef.Scheme.FILE, new FileSource()),
            states,
            metrics,
            Clock.systemUTC(),
            false)) {
      return fetcher.fetch(model);
    }
  }

  private ModelRegistry registry(ModelConfig model, ModelStates states) {
    return new ModelRegistry(List.of(model), states, metrics, json, BuiltInTasks.factory(json));
  }

  @Test
  void aPyTorchLoadSetsLibtorchsIntraOpThreads() throws Exception {
    for (int threads : new int[] {3, 1}) {
      ModelConfig iris =
          config("iris", TestModels.copy("iris", tmp.resolve("iris" + threads)), threads);
      ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
      InstalledSnapshot snapshot = fetch(iris, states);
      try (ModelRegistry registry = registry(iris, states)) {
        registry.load(iris, snapshot);
        System.out.println("engine_threads " + threads + ": libtorch " + EngineThreads.pyTorch());
        assertThat(EngineThreads.pyTorch()).isEqualTo(threads);
        assertThat(registry.infer("iris", json.readTree("{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}")))
            .isNotNull();
      }
    }
  }

  @Test
  void anOnnxSessionOfFourIntraOpThreadsStartsAPoolThatOneOfOneDoesNot() throws Exception {
    Assumptions.assumeTrue(
        Files.isDirectory(Path.of("/proc/self/task")), "no /proc/self/task to count threads in");
    poolThreads(1, "ort-first-load"); // the engine's own start, once, apart from any session
    long one = poolThreads(1, "ort-pool-one");
    long four = poolThreads(4, "ort-pool-four");
    // 1: the pass runs on its caller's thread alone; 4: a pool of 3 or 4 beside it. A load may
    // start
    // one short-lived helper of its own, so the counts are compared rather than taken as exact.
    assertThat(four).isGreaterThanOrEqualTo(one + 2);
  }

  /** The threads a load of a session with {@code threads} intra-op threads starts and keeps. */
  private long poolThreads(int threads, String loaderName) throws Exception {
    Path dir = OnnxGraphs.model(tmp.resolve("abs" + threads), OnnxGraphs.ROW_WISE);
    ModelConfig abs = config("abs", dir, threads);
    ModelStates states = new ModelStates(List.of("abs"), Set.of("abs"), Clock.systemUTC());
    InstalledSnapshot snapshot = fetch(abs, states);
    try (ModelRegistry registry = registry(abs, states)) {
      AtomicReference<Exception> failure = new AtomicReference<>();
      Thread loader =
          new Thread(
              () -> {
                try {
                  registry.load(abs, snapshot);
                } catch (ModelLoadException e) {
                  failure.set(e);
                }
              },
              loaderName);
      loader.start();
      loader.join(120_000);
      assertThat(loader.isAlive()).isFalse();
      assertThat(failure.get()).isNull();
      long started = named(loaderName);
      System.out.println("engine_threads " + threads + ": ONNX Runtime started " + started);
      return started;
    }
  }

  private static long named(String name) throws IOException {
    try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      return tasks.filter(t -> name.equals(comm(t))).count();
    }
  }

  private static String comm(Path task) {
    try {
      return Files.readString(task.resolve("comm")).strip();
    } catch (IOException e) {
      return ""; // the thread ended while listed
    }
  }
}
