package dev.modelcache.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The upstream watch's meters ({@code watch:}): {@code modelcache_watch_polls_total{model,outcome}}
 * counts the polls of each watched model ({@code unchanged}, {@code moved}, {@code failed}, {@code
 * held}: not polled, {@code modelcache.lock} holds it), and {@code
 * modelcache_watch_last_change_timestamp_seconds{model}} is when its branch was last seen to move
 * (0 before that).
 */
public final class WatchMeters {
  public static final String POLLS = "modelcache.watch.polls";
  public static final String LAST_CHANGE = "modelcache.watch.last.change.timestamp.seconds";

  /** What one poll found. */
  public enum Outcome {
    UNCHANGED,
    MOVED,
    FAILED,
    HELD;

    String tag() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private final MeterRegistry registry;
  private final Map<String, AtomicLong> lastChange = new ConcurrentHashMap<>();

  public WatchMeters(MeterRegistry registry) {
    this.registry = registry;
  }

  /** Registers a watched model's meters at zero. */
  public void bind(String model) {
    for (Outcome outcome : Outcome.values()) {
      counter(model, outcome);
    }
    gauge(model);
  }

  private AtomicLong gauge(String model) {
    return lastChange.computeIfAbsent(
        model,
        m -> {
          AtomicLong seconds = new AtomicLong();
          Gauge.builder(LAST_CHANGE, seconds, AtomicLong::get)
              .tags("model", m)
              .description("When the watched branch or tag was last seen to move (epoch seconds)")
              .register(registry);
          return seconds;
        });
  }

  /** Counts one poll of {@code model}. */
  public void polled(String model, Outcome outcome) {
    counter(model, outcome).increment();
  }

  /** Records that {@code model}'s branch was seen to move at {@code epochSeconds}. */
  public void moved(String model, long epochSeconds) {
    gauge(model).set(epochSeconds);
  }

  private Counter counter(String model, Outcome outcome) {
    return Counter.builder(POLLS)
        .tags("model", model, "outcome", outcome.tag())
        .description("Polls of a watched model's branch or tag by outcome")
        .register(registry);
  }
}
