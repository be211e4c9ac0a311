package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.task.BuiltInTasks;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelMemoryMeters;
import dev.modelcache.source.FileSource;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each loaded model's memory: measured across its load (the real process, and a probe whose
 * readings the test sets), reported in {@code /models} facts and {@code
 * modelcache_model_memory_bytes{model,revision}}, and {@code server.max_model_memory} enforced
 * before and after the load.
 */
class ModelMemoryTest {
  private static final long MIB = 1024 * 1024;

  @TempDir Path tmp;
  private final ObjectMapper json = new ObjectMapper();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final Metrics metrics = new Metrics(meters);
  private ModelStates states;
  private ModelConfig v1;
  private ModelConfig v2;
  private InstalledSnapshot first;
  private InstalledSnapshot second;
  private JsonNode request;

  @BeforeEach
  void fetchTwoRevisions() throws Exception {
    Path dir2 = TestModels.copy("iris", tmp.resolve("v2"));
    Files.writeString(dir2.resolve("README.md"), "second revision\n");
    Path cache = tmp.resolve("cache");
    v1 = model(cache, TestModels.copy("iris", tmp.resolve("v1")));
    v2 = model(cache, dir2);
    states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
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
    request = json.readTree("{\"inputs\": [[5.1, 3.5, 1.4, 0.2]]}");
  }

  private static ModelConfig model(Path cache, Path dir) {
    return TestModels.config(cache, "  - name: iris\n    source: file:" + dir + "\n")
        .models()
        .get(0);
  }

  private ModelRegistry registry(LoadMeter.Probe probe, long maxModelMemory) {
    return new ModelRegistry(
        List.of(v1),
        states,
        metrics,
        json,
        BuiltInTasks.factory(json),
        1000,
        System::nanoTime,
        probe,
        maxModelMemory);
  }

  private @Nullable Double gauge(String revision) {
    Gauge gauge =
        meters
            .find(ModelMemoryMeters.MODEL_MEMORY)
            .tags("model", "iris", "revision", revision)
            .gauge();
    return gauge == null ? null : gauge.value();
  }

  @Test
  void aLoadedModelReportsWhatItsLoadTookAndItsGaugeFollowsTheRevisionServed() throws Exception {
    try (ModelRegistry registry = registry(LoadMeter.PROCESS, 0)) {
      registry.load(v1, first);
      ModelMemory memory = registry.info("iris").orElseThrow().memory();
      System.out.println("iris (TorchScript, 1 worker) measured at load: " + memory);
      assertThat(memory).isNotNull();
      assertThat(memory.totalBytes()).isPositive();
      assertThat(memory.fileBytes()).isEqualTo(Files.size(first.dir().resolve("model.pt")));
      assertThat(memory.method())
          .isEqualTo(
              Files.exists(Path.of("/proc/self/status"))
                  ? "rss-delta-at-load"
                  : "heap-delta-at-load");
      assertThat(gauge(first.id())).isEqualTo((double) memory.totalBytes());

      registry.swap(v2, second, Duration.ZERO);
      assertThat(gauge(first.id())).as("the old revision, unloaded").isNull();
      assertThat(gauge(second.id())).isPositive();
      assertThat(registry.infer("iris", request).get("revision").asText()).isEqualTo(second.id());

      registry.remove("iris", Duration.ZERO);
      assertThat(gauge(second.id())).as("the model, removed").isNull();
    }
  }

  @Test
  void aModelThatTakesMoreThanTheLimitOnceLoadedIsUnloadedAndRefused() {
    FakeProbe probe = new FakeProbe();
    probe.growByOnLoad = 600 * MIB;
    try (ModelRegistry registry = registry(probe, 512 * MIB)) {
      assertThatThrownBy(() -> registry.load(v1, first))
          .isInstanceOf(ModelLoadException.class)
          .hasMessageStartingWith("iris - uses 60")
          .hasMessageContaining(" MiB once loaded (")
          .hasMessageEndingWith(
              "), over server.max_model_memory 512.0 MiB: unloaded; raise"
                  + " server.max_model_memory, lower its workers or serve a smaller model");
      assertThat(gauge(first.id())).isNull();
    }
  }

  @Test
  void aModelFileLargerThanTheLimitIsRefusedBeforeItsLoad() {
    FakeProbe probe = new FakeProbe();
    try (ModelRegistry registry = registry(probe, 1024)) {
      assertThatThrownBy(() -> registry.load(v1, first))
          .isInstanceOf(ModelLoadException.class)
          .hasMessage(
              "iris - its model file model.pt is 7.9 KiB, over server.max_model_memory 1.0 KiB,"
                  + " and loaded it takes at least that much: not loaded; raise"
                  + " server.max_model_memory or serve a smaller model (a quantised or smaller"
                  + " variant)");
      assertThat(probe.reads.get()).as("no load was measured").isZero();
    }
  }

  @Test
  void vmRssIsReadInBytesAndAMissingFileReadsMinusOne() throws Exception {
    Path status = tmp.resolve("status");
    Files.writeString(status, "Name:\tjava\nVmPeak:\t 9000 kB\nVmRSS:\t  123456 kB\nThreads: 9\n");
    assertThat(LoadMeter.vmRss(status)).isEqualTo(123456L * 1024);
    assertThat(LoadMeter.vmRss(tmp.resolve("absent"))).isEqualTo(-1);
  }

  /** A resident set that grows by {@link #growByOnLoad} between a load's two readings. */
  private static final class FakeProbe implements LoadMeter.Probe {
    final AtomicLong reads = new AtomicLong();
    long growByOnLoad;

    @Override
    public long residentBytes() {
      return reads.getAndIncrement() % 2 == 0 ? 100 * MIB : 100 * MIB + growByOnLoad;
    }

    @Override
    public MemoryUsage heap() {
      return new MemoryUsage(0, 10 * MIB, 20 * MIB, 40 * MIB);
    }

    @Override
    public MemoryUsage nonHeap() {
      return new MemoryUsage(0, 30 * MIB, 30 * MIB, -1);
    }
  }
}
