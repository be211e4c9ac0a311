package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The iris model served with 2 workers, whose predictors are {@link TensorPredictor}s with kept
 * inputs: requests from 8 threads at once, run inline and by the workers, each get the answer that
 * the same input got alone.
 */
class TensorPredictorRegistryTest {
  @TempDir Path tmp;
  private final ObjectMapper json = new ObjectMapper();
  private final Metrics metrics = new Metrics(new SimpleMeterRegistry());

  @Test
  void concurrentRequestsOnTwoWorkersGetTheirOwnAnswers() throws Exception {
    Path dir = TestModels.copy("iris", tmp.resolve("iris"));
    ModelConfig iris =
        TestModels.config(
                tmp.resolve("cache"), "  - {name: iris, source: 'file:" + dir + "', workers: 2}\n")
            .models()
            .get(0);
    ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
    InstalledSnapshot snapshot;
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(tmp.resolve("cache")),
            Map.of(SourceRef.Scheme.FILE, new FileSource()),
            states,
            metrics,
            Clock.systemUTC(),
            false)) {
      snapshot = fetcher.fetch(iris);
    }
    try (ModelRegistry registry =
        new ModelRegistry(List.of(iris), states, metrics, json, BuiltInTasks.factory(json))) {
      registry.load(iris, snapshot);
      int distinct = 64;
      List<JsonNode> requests = new ArrayList<>();
      List<JsonNode> alone = new ArrayList<>();
      for (int i = 0; i < distinct; i++) {
        JsonNode request =
            json.readTree(
                "{\"inputs\": [["
                    + (4 + i % 8 * 0.5)
                    + ", "
                    + (2 + i / 8 * 0.25)
                    + ", "
                    + (1 + i % 5)
                    + ", "
                    + (0.1 + i % 3)
                    + "]]}");
        requests.add(request);
        alone.add(registry.infer("iris", request).get("outputs"));
      }
      assertThat(alone.stream().distinct().count()).as("distinct answers").isGreaterThan(8);
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Callable<Integer>> clients = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
          int first = c;
          clients.add(
              () -> {
                for (int n = 0; n < 250; n++) {
                  int i = (first * 7 + n) % distinct;
                  assertThat(registry.infer("iris", requests.get(i)).get("outputs"))
                      .as("request %d", i)
                      .isEqualTo(alone.get(i));
                }
                return 250;
              });
        }
        int answered = 0;
        for (Future<Integer> done : pool.invokeAll(clients, 2, TimeUnit.MINUTES)) {
          answered += done.get();
        }
        assertThat(answered).isEqualTo(2000);
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
