package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.config.WatchConfig;
import dev.modelcache.fetch.LockCheck;
import dev.modelcache.metrics.WatchMeters;
import dev.modelcache.metrics.WatchMeters.Outcome;
import dev.modelcache.source.ModelSource;
import dev.modelcache.store.SignedLock;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Polls the branch or tag of each model with {@code watch:} (the Hub's revision API; an S3 prefix's
 * listing) every interval, give or take 10 %, and when it names another revision than last seen
 * asks for the same update a reload makes ({@link Target#moved}: fetched beside, loaded, switched
 * with no failed request). A failed poll waits longer each time (twice, four times ... the
 * interval, at most {@link #MAX_BACKOFF} or the interval if longer) and never stops the watch. A
 * model that {@code modelcache.lock} holds (a locked Hub or local entry, or a signed lockfile that
 * is required) is not polled: the lockfile is the authority, and {@code modelcache lock} moves it.
 *
 * <pre>{@code
 * UpstreamWatch watch = new UpstreamWatch(sources, target, meters, clock, Math::random, executor);
 * watch.refresh(); // again after each reload
 * }</pre>
 */
final class UpstreamWatch {
  private static final Logger log = LoggerFactory.getLogger(UpstreamWatch.class);
  static final Duration MAX_BACKOFF = Duration.ofHours(1);

  /** What the watch reads of the daemon, and whom it tells of a move. */
  interface Target {
    Config config();

    SignedLock signed();

    /** The revision {@code model} serves, if any. */
    Optional<String> serving(String model);

    /** {@code model}'s branch or tag moved: bring in what it names now. */
    void moved(ModelConfig model);
  }

  /** One watched model's state; touched only on the watch's thread. */
  private static final class Watched {
    @Nullable String last;
    int failures;
    boolean held;
    @Nullable ScheduledFuture<?> next;
  }

  private final Map<SourceRef.Scheme, ModelSource> sources;
  private final Target target;
  private final WatchMeters meters;
  private final Clock clock;
  private final DoubleSupplier random;
  private final ScheduledExecutorService executor;
  private final Map<String, Watched> watched = new ConcurrentHashMap<>();

  UpstreamWatch(
      Map<SourceRef.Scheme, ModelSource> sources,
      Target target,
      WatchMeters meters,
      Clock clock,
      DoubleSupplier random,
      ScheduledExecutorService executor) {
    this.sources = sources;
    this.target = target;
    this.meters = meters;
    this.clock = clock;
    this.random = random;
    this.executor = executor;
  }

  /** Starts watching the models of the config in force that have {@code watch:}; stops the rest. */
  synchronized void refresh() {
    Set<String> names = new HashSet<>();
    for (ModelConfig model : target.config().models()) {
      WatchConfig watch = model.watch();
      if (watch == null || !sources.containsKey(model.source().scheme())) {
        continue;
      }
      names.add(model.name());
      if (!watched.containsKey(model.name())) {
        watched.put(model.name(), new Watched());
        meters.bind(model.name());
        log.info(
            "{} - watching {} every {} s",
            model.name(),
            model.source(),
            watch.interval().toMillis() / 1000.0);
        schedule(model.name(), jittered(watch.interval(), random.getAsDouble()));
      }
    }
    for (String name : Set.copyOf(watched.keySet())) {
      if (!names.contains(name)) {
        Watched gone = watched.remove(name);
        if (gone != null && gone.next != null) {
          gone.next.cancel(false);
        }
      }
    }
  }

  private void schedule(String name, Duration delay) {
    Watched state = watched.get(name);
    if (state == null) {
      return;
    }
    try {
      state.next =
          executor.schedule(() -> pollAndReschedule(name), delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // stopping
    }
  }

  private void pollAndReschedule(String name) {
    Duration next;
    try {
      next = poll(name);
    } catch (RuntimeException e) {
      log.warn("{} - watch poll failed unexpectedly", name, e);
      next = Duration.ofMinutes(1);
    }
    if (next != null) {
      schedule(name, next);
    }
  }

  /**
   * Polls {@code name} once; returns the pause before its next poll, or null when it is no longer
   * watched.
   */
  @Nullable Duration poll(String name) {
    Watched state = watched.get(name);
    ModelConfig model = model(name);
    if (state == null || model == null || model.watch() == null) {
      return null;
    }
    Duration interval = model.watch().interval();
    if (held(name, model, state)) {
      meters.polled(name, Outcome.HELD);
      return jittered(interval, random.getAsDouble());
    }
    ModelSource source = sources.get(model.source().scheme());
    if (source == null) {
      return null;
    }
    MDC.put("model", name);
    try {
      String now = source.upstreamRevision(model);
      if (state.failures > 0) {
        log.info(
            "{} - {} answers again after {} failed poll(s)", name, model.source(), state.failures);
      }
      state.failures = 0;
      String before = state.last != null ? state.last : baseline(model);
      state.last = now;
      if (before == null || before.equals(now)) {
        meters.polled(name, Outcome.UNCHANGED);
      } else {
        meters.polled(name, Outcome.MOVED);
        meters.moved(name, clock.instant().getEpochSecond());
        log.info("{} - {} moved {} -> {}; updating", name, model.source(), before, now);
        target.moved(model);
      }
      return jittered(interval, random.getAsDouble());
    } catch (Exception e) {
      return failed(name, model, interval, state, e);
    } finally {
      MDC.remove("model");
    }
  }

  /**
   * Whether {@code modelcache.lock} holds {@code model} (logged once while it does): then it is not
   * polled.
   */
  private boolean held(String name, ModelConfig model, Watched state) {
    SignedLock signed = target.signed();
    if (!signed.required() && !LockCheck.holds(model, signed.lockfile().model(name))) {
      state.held = false;
      return false;
    }
    if (!state.held) {
      log.info(
          "{} - not watching {}: {} holds it (the lockfile is the authority: run 'modelcache"
              + " lock' to move it)",
          name,
          model.source(),
          signed.required() ? "the signed modelcache.lock" : "modelcache.lock");
    }
    state.held = true;
    state.last = null; // polled again from what is served once the lockfile lets go
    return true;
  }

  /** Counts a failed poll, warns once per streak; returns the growing pause before the next. */
  private Duration failed(
      String name, ModelConfig model, Duration interval, Watched state, Exception e) {
    meters.polled(name, Outcome.FAILED);
    state.failures++;
    Duration wait = backoff(interval, state.failures, random.getAsDouble());
    if (state.failures == 1) {
      log.warn(
          "{} - cannot poll {} ({}); the served revision stays; polling again with a growing"
              + " pause (next in {} s)",
          name,
          model.source(),
          e.getMessage() == null ? e.toString() : e.getMessage(),
          wait.toSeconds());
    }
    return wait;
  }

  /**
   * What the first poll compares with: the commit served, for a Hub model (whose snapshot id is its
   * commit); else nothing, and the first poll only learns the listing.
   */
  private @Nullable String baseline(ModelConfig model) {
    return model.source().scheme() == SourceRef.Scheme.HF
        ? target.serving(model.name()).orElse(null)
        : null;
  }

  private @Nullable ModelConfig model(String name) {
    for (ModelConfig model : target.config().models()) {
      if (model.name().equals(name)) {
        return model;
      }
    }
    return null;
  }

  /** {@code interval} times a factor between 0.9 and 1.1 ({@code random} in [0, 1)). */
  static Duration jittered(Duration interval, double random) {
    return Duration.ofMillis(Math.round(interval.toMillis() * (0.9 + 0.2 * random)));
  }

  /**
   * The pause after {@code failures} failed polls in a row: the interval doubled each time, at most
   * {@link #MAX_BACKOFF} (or the interval, when longer), give or take 10 %.
   */
  static Duration backoff(Duration interval, int failures, double random) {
    long cap = Math.max(interval.toMillis(), MAX_BACKOFF.toMillis());
    long millis = Math.min(cap, interval.toMillis() << Math.min(failures, 20));
    return jittered(Duration.ofMillis(millis), random);
  }

  /** Whether {@code name} is watched now. */
  boolean watching(String name) {
    return watched.containsKey(name);
  }
}
