package dev.modelcache.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code modelcache_model_memory_bytes{model,revision}}: the memory (native and heap, measured
 * across the load and warm-up) each loaded revision of a model takes, registered when it is loaded
 * and removed when it is unloaded. During a swap both revisions have a series; two loaded copies of
 * one revision (a swap that changed only settings) add up in one.
 */
public final class ModelMemoryMeters {
  public static final String MODEL_MEMORY = "modelcache.model.memory";

  private final MeterRegistry registry;

  /** The bytes of each loaded copy, by model and revision (guarded by this). */
  private final Map<Tags, Map<Object, Long>> loaded = new HashMap<>();

  public ModelMemoryMeters(MeterRegistry registry) {
    this.registry = registry;
  }

  /** Counts {@code bytes} for {@code copy}, a loaded copy of {@code model} at {@code revision}. */
  public synchronized void loaded(String model, String revision, Object copy, long bytes) {
    Tags tags = Tags.of("model", model, "revision", revision);
    Map<Object, Long> copies = loaded.computeIfAbsent(tags, t -> new ConcurrentHashMap<>());
    if (registry.find(MODEL_MEMORY).tags(tags).gauge() == null) {
      // new, or removed with its model by a reload (Metrics.unbindModel) while a copy was loaded
      Gauge.builder(MODEL_MEMORY, copies, ModelMemoryMeters::sum)
          .tags(tags)
          .strongReference(true)
          .baseUnit("bytes")
          .description(
              "Memory a loaded model revision takes (native and heap), measured across its load")
          .register(registry);
    }
    copies.put(copy, bytes);
  }

  /** Stops counting {@code copy}; the series goes with the last copy of its revision. */
  public synchronized void unloaded(String model, String revision, Object copy) {
    Tags tags = Tags.of("model", model, "revision", revision);
    Map<Object, Long> copies = loaded.get(tags);
    if (copies != null && copies.remove(copy) != null && copies.isEmpty()) {
      loaded.remove(tags);
      remove(tags);
    }
  }

  private void remove(Tags tags) {
    Gauge gauge = registry.find(MODEL_MEMORY).tags(tags).gauge();
    if (gauge != null) {
      registry.remove(gauge);
    }
  }

  private static double sum(Map<Object, Long> copies) {
    return copies.values().stream().mapToLong(Long::longValue).sum();
  }
}
