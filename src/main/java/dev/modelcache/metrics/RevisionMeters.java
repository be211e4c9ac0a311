package dev.modelcache.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * {@code modelcache_revision_requests_total{model,revision,outcome}}: inference requests by the
 * revision that answered them, so that a canary and the revision it may replace are compared side
 * by side ({@code modelcache_inference_requests_total{model,outcome}} counts them all, as before).
 * A series stays after its revision is unloaded, until the model is removed.
 */
public final class RevisionMeters {
  public static final String REVISION_REQUESTS = "modelcache.revision.requests";

  private final MeterRegistry registry;

  public RevisionMeters(MeterRegistry registry) {
    this.registry = registry;
  }

  /** Counts one request of {@code model} that {@code revision} answered (or refused). */
  public void request(String model, String revision, Metrics.Outcome outcome) {
    // the registry finds a meter registered before by its id: no map of our own to fall stale
    Counter.builder(REVISION_REQUESTS)
        .tags("model", model, "revision", revision, "outcome", outcome.label())
        .description("Inference requests by the model revision that answered and outcome")
        .register(registry)
        .increment();
  }
}
