package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.FakeClock;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request deadlines are read on the registry's injected nano clock: a request whose {@code
 * timeout_ms} (an hour here) passes on a fake clock gets its timeout at once, with no real waiting;
 * on the real clock the test would hang until its {@link Timeout}.
 */
class ModelRegistryDeadlineTest {
  @TempDir Path cache;

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aRequestPastItsTimeoutOnTheInjectedClockTimesOutWithoutRealWaiting() throws Exception {
    Config config =
        TestModels.config(
            cache,
            TestModels.modelYaml("iris", TestModels.MODELS.resolve("iris"))
                + "    timeout_ms: 3600000\n");
    ModelConfig model = config.models().get(0);
    ObjectMapper json = new ObjectMapper();
    GatedTasks tasks = new GatedTasks(BuiltInTasks.factory(json), List.of("iris"));
    FakeClock clock = new FakeClock();
    // every look at the clock finds an hour and a second gone: the deadline has passed
    // by the time the request waits for its answer
    Duration step = Duration.ofMillis(model.timeoutMs()).plusSeconds(1);
    ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
    Metrics metrics = new Metrics(new SimpleMeterRegistry());
    try (ModelRegistry registry =
        new ModelRegistry(
            config.models(),
            states,
            metrics,
            json,
            tasks,
            64,
            () -> {
              long now = clock.nanoTime();
              clock.advance(step);
              return now;
            })) {
      registry.load(model, ModelRegistryLinksTest.install(new CacheStore(cache), model));
      GatedTasks.Gate gate = tasks.gate("iris");
      gate.shut(); // no forward pass answers: only the deadline can end the request
      try {
        assertThatThrownBy(
                () -> registry.infer("iris", json.readTree("{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}")))
            .isInstanceOf(InferenceTimeoutException.class)
            .hasMessage(
                "iris - no answer within timeout_ms (3600000 ms); retry later or with fewer"
                    + " inputs, or raise the model's timeout_ms or workers");
      } finally {
        gate.open();
      }
      assertThat(
              metrics
                  .registry()
                  .get(Metrics.INFERENCE_REQUESTS)
                  .tags("model", "iris", "outcome", "timeout")
                  .counter()
                  .count())
          .isEqualTo(1);
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void anInlinePassThatEndsPastTheDeadlineAnswersTheSameTimeout() throws Exception {
    Config config =
        TestModels.config(
            cache,
            TestModels.modelYaml("iris", TestModels.MODELS.resolve("iris"))
                + "    timeout_ms: 3600000\n");
    ModelConfig model = config.models().get(0);
    ObjectMapper json = new ObjectMapper();
    GatedTasks tasks = new GatedTasks(BuiltInTasks.factory(json), List.of("iris"));
    FakeClock clock = new FakeClock(); // frozen: every pass takes no time, iris is small
    ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
    Metrics metrics = new Metrics(new SimpleMeterRegistry());
    try (ModelRegistry registry =
        new ModelRegistry(config.models(), states, metrics, json, tasks, 64, clock::nanoTime)) {
      registry.load(model, ModelRegistryLinksTest.install(new CacheStore(cache), model));
      String body = "{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}";
      registry.infer("iris", json.readTree(body)); // on a worker: the first pass is timed
      GatedTasks.Gate gate = tasks.gate("iris");
      gate.shut();
      CompletableFuture<Throwable> failure = new CompletableFuture<>();
      Thread request =
          new Thread(
              () -> {
                try {
                  registry.infer("iris", json.readTree(body));
                  failure.complete(null);
                } catch (Exception e) {
                  failure.complete(e);
                }
              },
              "inline-request");
      request.start();
      gate.awaitHeld(Duration.ofSeconds(30)); // inline, on the request's own thread
      clock.advance(Duration.ofHours(2)); // the pass ends past its deadline
      gate.open();

      // were it on a worker, the request would wait out the real hour it computed before the
      // advance
      assertThat(failure.get(30, TimeUnit.SECONDS))
          .isInstanceOf(InferenceTimeoutException.class)
          .hasMessage(
              "iris - no answer within timeout_ms (3600000 ms); retry later or with fewer"
                  + " inputs, or raise the model's timeout_ms or workers");
    }
  }
}
