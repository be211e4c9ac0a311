package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.task.BuiltInTasks;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.CacheStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code load: lazy} model still loading when the registry closes: close waits for the load, and
 * the model it brought is closed, not left running with its workers and native weights.
 */
class ModelRegistryCloseTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path cache;

  @Test
  void closeAwaitsALazyLoadUnderWayAndClosesWhatItLoaded() throws Exception {
    Config config =
        TestModels.config(
            cache,
            TestModels.modelYaml("iris", TestModels.MODELS.resolve("iris")) + "    load: lazy\n");
    ModelConfig model = config.models().get(0);
    ObjectMapper json = new ObjectMapper();
    GatedTasks tasks = new GatedTasks(BuiltInTasks.factory(json), List.of("iris"));
    ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
    ModelRegistry registry =
        new ModelRegistry(
            config.models(), states, new Metrics(new SimpleMeterRegistry()), json, tasks);
    registry.load(model, ModelRegistryLinksTest.install(new CacheStore(cache), model));
    JsonNode request = json.readTree("{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}");
    GatedTasks.Gate gate = tasks.gate("iris");
    gate.shut(); // the lazy load's warm-up waits here
    Thread first = new Thread(() -> catching(() -> registry.infer("iris", request)));
    first.start();
    Thread closer = null;
    try {
      gate.awaitHeld(WAIT);
      assertThat(thread("modelcache-load-iris")).isNotNull();
      closer = new Thread(registry::close);
      closer.start();
    } finally {
      gate.open();
    }
    closer.join(WAIT.toMillis());

    assertThat(closer.isAlive()).isFalse();
    assertThat(thread("modelcache-load-iris")).isNull(); // close returned after the load ended
    first.join(WAIT.toMillis());
    assertThatThrownBy(() -> registry.infer("iris", request))
        .isInstanceOf(ModelNotReadyException.class)
        .hasMessage("iris is shutting down");
  }

  private static Thread thread(String name) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals(name) && t.isAlive())
        .findFirst()
        .orElse(null);
  }

  private static void catching(Runnable body) {
    try {
      body.run();
    } catch (RuntimeException e) {
      // the first request's fate depends on when close came; only the close is under test
    }
  }
}
