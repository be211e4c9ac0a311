package dev.modelcache.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** {@link ModelMemoryMeters}: one series per loaded revision, two copies of one adding up. */
class ModelMemoryMetersTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final ModelMemoryMeters meters = new ModelMemoryMeters(registry);

  private @Nullable Double value(String revision) {
    Gauge gauge =
        registry
            .find(ModelMemoryMeters.MODEL_MEMORY)
            .tags("model", "iris", "revision", revision)
            .gauge();
    return gauge == null ? null : gauge.value();
  }

  @Test
  void eachRevisionHasItsSeriesUntilItsLastCopyIsUnloaded() {
    Object old = new Object();
    Object next = new Object();
    Object sameBytes = new Object();
    meters.loaded("iris", "r1", old, 100);
    meters.loaded("iris", "r2", next, 200);
    assertThat(value("r1")).isEqualTo(100.0);
    assertThat(value("r2")).isEqualTo(200.0);

    meters.loaded("iris", "r2", sameBytes, 50); // a swap that changed only settings
    assertThat(value("r2")).isEqualTo(250.0);
    meters.unloaded("iris", "r1", old);
    meters.unloaded("iris", "r2", next);
    assertThat(value("r1")).isNull();
    assertThat(value("r2")).isEqualTo(50.0);
    meters.unloaded("iris", "r2", sameBytes);
    assertThat(value("r2")).isNull();
    meters.unloaded("iris", "r2", sameBytes); // a second close does nothing
  }

  @Test
  void aSeriesRemovedWithItsModelComesBackWhenTheModelLoadsAgain() {
    meters.loaded("iris", "r1", new Object(), 100);
    new Metrics(registry).unbindModel("iris"); // a reload removed the model
    assertThat(value("r1")).isNull();
    Object again = new Object();
    meters.loaded("iris", "r1", again, 300);
    assertThat(value("r1")).as("the first copy is still loaded: both count").isEqualTo(400.0);
  }
}
