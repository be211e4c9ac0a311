package dev.modelcache.metrics;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every configured model is doing right now, written by the fetch and load steps and read by
 * {@code /health}, {@code /models} and the {@code modelcache_model_state} gauge. The set of models
 * is fixed at construction.
 */
public final class ModelStates {
  private final Clock clock;
  private final Set<String> required;
  private final Map<String, Entry> entries = new LinkedHashMap<>();

  /**
   * @param models every configured model name, in config order
   * @param required the names whose READY state readiness waits for
   */
  public ModelStates(List<String> models, Set<String> required, Clock clock) {
    this.clock = clock;
    this.required = Set.copyOf(required);
    for (String model : models) {
      entries.put(model, new Entry(model, clock.instant()));
    }
  }

  public void fetching(String model, long bytesTotal) {
    Entry entry = entry(model);
    synchronized (entry) {
      entry.set(ModelState.FETCHING, null, clock.instant());
      entry.bytesTotal = bytesTotal;
      entry.bytesDone.set(0);
    }
  }

  /** Adds {@code bytes} to the progress of the current fetch; cheap enough to call per chunk. */
  public void fetched(String model, long bytes) {
    entry(model).bytesDone.addAndGet(bytes);
  }

  public void verifying(String model) {
    set(model, ModelState.VERIFYING, null);
  }

  public void loading(String model) {
    set(model, ModelState.LOADING, null);
  }

  public void ready(String model) {
    set(model, ModelState.READY, null);
  }

  public void failed(String model, String reason) {
    set(model, ModelState.FAILED, reason);
  }

  public ModelStatus status(String model) {
    Entry entry = entry(model);
    synchronized (entry) {
      long done = entry.bytesDone.get();
      double seconds = Duration.between(entry.since, clock.instant()).toNanos() / 1e9;
      double rate = entry.state == ModelState.FETCHING && seconds > 0 ? done / seconds : 0;
      boolean fetching = entry.state == ModelState.FETCHING;
      return new ModelStatus(
          model,
          entry.state,
          fetching ? done : 0,
          fetching ? entry.bytesTotal : 0,
          rate,
          entry.reason,
          entry.since);
    }
  }

  public List<ModelStatus> all() {
    List<ModelStatus> all = new ArrayList<>();
    for (String model : entries.keySet()) {
      all.add(status(model));
    }
    return all;
  }

  public boolean contains(String model) {
    return entries.containsKey(model);
  }

  public boolean isRequired(String model) {
    return required.contains(model);
  }

  /** True when every required model is READY. */
  public boolean ready() {
    return required.stream().allMatch(model -> status(model).state() == ModelState.READY);
  }

  private void set(String model, ModelState state, String reason) {
    Entry entry = entry(model);
    synchronized (entry) {
      entry.set(state, reason, clock.instant());
    }
  }

  private Entry entry(String model) {
    Entry entry = entries.get(model);
    if (entry == null) {
      throw new IllegalArgumentException("model (" + model + ") is not configured");
    }
    return entry;
  }

  private static final class Entry {
    final AtomicLong bytesDone = new AtomicLong();
    ModelState state = ModelState.PENDING;
    String reason;
    Instant since;
    long bytesTotal;

    Entry(String model, Instant since) {
      this.since = since;
    }

    void set(ModelState state, String reason, Instant since) {
      this.state = state;
      this.reason = reason;
      this.since = since;
    }
  }
}
