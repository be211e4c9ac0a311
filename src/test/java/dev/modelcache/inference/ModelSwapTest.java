package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.LogCapture;
import dev.modelcache.Poll;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelRegistry#swap} with a request held inside a forward pass of the old revision: the new
 * revision serves at once, the old one answers the held request, and is closed only after it (or
 * after the drain timeout, logged).
 */
class ModelSwapTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Duration EVERY = Duration.ofMillis(20);

  @TempDir Path tmp;
  private final ObjectMapper json = new ObjectMapper();
  private ModelConfig v1;
  private ModelConfig v2;
  private InstalledSnapshot first;
  private InstalledSnapshot second;
  private GatedTasks gated;
  private ModelRegistry registry;
  private JsonNode request;

  @BeforeEach
  void loadTheFirstRevision() throws Exception {
    Path dir2 = TestModels.copy("iris", tmp.resolve("v2"));
    Files.writeString(dir2.resolve("README.md"), "second revision\n");
    Path cache = tmp.resolve("cache");
    v1 = model(cache, TestModels.copy("iris", tmp.resolve("v1")));
    v2 = model(cache, dir2);
    ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
    Metrics metrics = new Metrics(new SimpleMeterRegistry());
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(cache),
            Map.of(SourceRef.Scheme.FILE, new FileSource()),
            states,
            metrics,
            Clock.systemUTC(),
            false)) {
      first = fetcher.fetch(v1);
      second = fetcher.fetch(v2);
    }
    assertThat(first.id()).isNotEqualTo(second.id());
    TaskFactory real = BuiltInTasks.factory(json);
    gated = new GatedTasks(real, List.of("iris"));
    // only the first revision's forward passes stop at the gate: the second warms up freely
    TaskFactory tasks =
        (model, dir) ->
            dir.equals(first.dir()) ? gated.create(model, dir) : real.create(model, dir);
    registry = new ModelRegistry(List.of(v1), states, metrics, json, tasks);
    registry.load(v1, first);
    request = json.readTree("{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}");
  }

  private static ModelConfig model(Path cache, Path dir) {
    return TestModels.config(cache, "  - name: iris\n    source: file:" + dir + "\n")
        .models()
        .get(0);
  }

  @Test
  void theNewRevisionServesAtOnceAndTheOldOneClosesAfterItsLastRequest() throws Exception {
    GatedTasks.Gate gate = gated.gate("iris");
    gate.shut();
    CompletableFuture<ObjectNode> held =
        CompletableFuture.supplyAsync(() -> registry.infer("iris", request));
    gate.awaitHeld(WAIT);
    CompletableFuture<String> swap = CompletableFuture.supplyAsync(this::swapWithLongDrain);
    Poll.until(
        WAIT,
        EVERY,
        "the switch",
        () -> registry.revision("iris").orElseThrow().equals(second.id()));

    assertThat(registry.infer("iris", request).get("revision").asText()).isEqualTo(second.id());
    assertThat(swap).isNotDone(); // draining: the held request still uses the first revision
    gate.open();
    assertThat(held.get().get("revision").asText()).isEqualTo(first.id());
    assertThat(swap.get()).isEqualTo(second.id());
    assertThat(registry.infer("iris", request).get("revision").asText()).isEqualTo(second.id());
  }

  @Test
  void aDrainShorterThanTheTimeoutWaitsForTheRequestsTimeoutThenCloses() throws Exception {
    ModelConfig quick =
        TestModels.config(
                tmp.resolve("cache"),
                "  - name: iris\n    source: file:"
                    + tmp.resolve("v2/iris")
                    + "\n"
                    + "    timeout_ms: 300\n")
            .models()
            .get(0);
    GatedTasks.Gate gate = gated.gate("iris");
    registry.swap(quick, first, Duration.ofMillis(100)); // the first bytes, a 300 ms timeout
    gate.shut();
    CompletableFuture<ObjectNode> held =
        CompletableFuture.supplyAsync(() -> registry.infer("iris", request));
    gate.awaitHeld(WAIT);
    try (LogCapture log = new LogCapture(ModelRegistry.class)) {
      assertThat(registry.swap(v2, second, Duration.ofMillis(100))).isEqualTo(second.id());
      // the held request had its answer (504 at its timeout) before the close: none is cut. Its
      // future completes on its own thread just after the request leaves the model, so wait for it.
      assertThat(held)
          .failsWithin(WAIT)
          .withThrowableOfType(ExecutionException.class)
          .withCauseInstanceOf(InferenceTimeoutException.class);
      assertThat(log.lines())
          .contains("INFO iris - revision " + first.id() + " drained and unloaded")
          .noneMatch(line -> line.contains("still use revision"));
    } finally {
      gate.open();
    }
    assertThat(registry.infer("iris", request).get("revision").asText()).isEqualTo(second.id());
  }

  private String swapWithLongDrain() {
    try {
      return registry.swap(v2, second, WAIT);
    } catch (ModelLoadException e) {
      throw new IllegalStateException(e);
    }
  }
}
