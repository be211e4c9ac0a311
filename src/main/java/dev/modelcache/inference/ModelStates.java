package dev.modelcache.inference;

import dev.modelcache.metrics.Metrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * What every configured model is doing right now, written by the fetch and load steps and read by
 * {@code /health}, {@code /models} and the {@code modelcache_model_state} gauge. A config reload
 * adds and removes models ({@link #add}, {@link #remove}); the maps are replaced whole, so readers
 * take no lock.
 *
 * <p>The fetch rate is measured over the last {@link #RATE_WINDOW} (over the whole fetch while it
 * is younger), so that a stalled transfer shows a falling rate and an unknown ETA instead of the
 * average of its good start.
 */
public final class ModelStates implements Metrics.ModelView {
  /** How far back the fetch rate looks. */
  public static final Duration RATE_WINDOW = Duration.ofSeconds(10);

  private static final long SAMPLE_SPACING_NANOS = Duration.ofSeconds(1).toNanos();
  private static final int MAX_SAMPLES = 64;

  private final Clock clock;
  private volatile Set<String> required;
  private volatile Map<String, Entry> entries = new LinkedHashMap<>();

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

  /** Adds {@code model} (PENDING), configured by a reload; a known one stays as it is. */
  public synchronized void add(String model, boolean isRequired) {
    Map<String, Entry> next = new LinkedHashMap<>(entries);
    next.putIfAbsent(model, new Entry(model, clock.instant()));
    entries = next;
    Set<String> req = new java.util.HashSet<>(required);
    if (isRequired) {
      req.add(model);
    } else {
      req.remove(model);
    }
    required = Set.copyOf(req);
  }

  /** Forgets {@code model}, which a reload removed from the config. */
  public synchronized void remove(String model) {
    Map<String, Entry> next = new LinkedHashMap<>(entries);
    next.remove(model);
    entries = next;
    Set<String> req = new java.util.HashSet<>(required);
    req.remove(model);
    required = Set.copyOf(req);
  }

  /**
   * Records the update of {@code model} under way or failed (the model keeps serving what it
   * served); null once it is served.
   */
  public void update(String model, @Nullable Update update) {
    Entry entry = entries.get(model);
    if (entry != null) {
      entry.update = update;
    }
  }

  /** The update of {@code model} under way or failed, or empty when none. */
  public Optional<Update> update(String model) {
    Entry entry = entries.get(model);
    return Optional.ofNullable(entry == null ? null : entry.update);
  }

  /**
   * A new revision (or config) of a model being brought in beside the one it serves.
   *
   * @param pending what is being brought in: the new source, or the revision once fetched
   * @param error why the last attempt failed, or null while it runs
   * @param retryAt when the next attempt starts after a failure, or null
   */
  public record Update(String pending, @Nullable String error, @Nullable Instant retryAt) {}

  public void fetching(String model, long bytesTotal) {
    Entry entry = entry(model);
    synchronized (entry) {
      Instant now = clock.instant();
      entry.set(ModelState.FETCHING, null, now);
      entry.bytesTotal = bytesTotal;
      entry.bytesDone.set(0);
      entry.samples.clear();
      entry.samples.add(new Sample(now, 0));
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

  public void failed(String model, @Nullable String reason) {
    set(model, ModelState.FAILED, reason);
  }

  /**
   * Records that {@code model} serves {@code revision} from the cache because its source could not
   * be reached; a model already in that condition keeps the time it entered it.
   *
   * @param reason what failed, as the fetch reported it
   */
  public void sourceUnreachable(String model, String revision, @Nullable String reason) {
    Entry entry = entry(model);
    synchronized (entry) {
      Instant since = entry.stale == null ? clock.instant() : entry.stale.since();
      entry.stale = new Stale(revision, reason, since);
    }
  }

  /** Records that the source of {@code model} answered: what it serves is current again. */
  public void sourceReachable(String model) {
    Entry entry = entry(model);
    synchronized (entry) {
      entry.stale = null;
    }
  }

  /**
   * Why {@code model} serves a cached revision instead of asking its source, or empty when the last
   * check of its source succeeded (or none was made).
   */
  public Optional<Stale> stale(String model) {
    Entry entry = entries.get(model);
    if (entry == null) {
      return Optional.empty(); // removed by a reload while a route described it
    }
    synchronized (entry) {
      return Optional.ofNullable(entry.stale);
    }
  }

  /**
   * A model served from the cache because its source was unreachable.
   *
   * @param revision the cached revision served (a commit, or the snapshot id of S3 and local
   *     models)
   * @param reason the failure that made the fetch fall back to it
   * @param since when the source was first found unreachable
   */
  public record Stale(String revision, @Nullable String reason, Instant since) {}

  public ModelStatus status(String model) {
    return status(entry(model));
  }

  private ModelStatus status(Entry entry) {
    String model = entry.model;
    synchronized (entry) {
      long done = entry.bytesDone.get();
      boolean fetching = entry.state == ModelState.FETCHING;
      double rate = fetching ? entry.rate(clock.instant(), done) : 0;
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

  /**
   * The state {@code model} is in now; a read without the lock that {@link #status} takes, cheap
   * enough for every request.
   */
  public ModelState state(String model) {
    return entry(model).state;
  }

  @Override
  public List<String> stateNames() {
    return Stream.of(ModelState.values()).map(ModelState::name).toList();
  }

  @Override
  public String stateName(String model) {
    Entry entry = entries.get(model);
    return entry == null ? "" : entry.state.name(); // "" for a model a reload removed
  }

  @Override
  public boolean sourceUnreachable(String model) {
    Entry entry = entries.get(model);
    return entry != null && entry.stale != null;
  }

  @Override
  public boolean updateFailed(String model) {
    Entry entry = entries.get(model);
    Update update = entry == null ? null : entry.update;
    return update != null && update.error() != null;
  }

  public List<ModelStatus> all() {
    List<ModelStatus> all = new ArrayList<>();
    for (Entry entry : entries.values()) {
      all.add(status(entry));
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
    Map<String, Entry> now = entries;
    return required.stream()
        .map(now::get)
        .allMatch(entry -> entry == null || entry.state == ModelState.READY);
  }

  private void set(String model, ModelState state, @Nullable String reason) {
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

  /** Bytes done at one moment of a fetch. */
  private record Sample(Instant at, long bytes) {}

  private static final class Entry {
    final AtomicLong bytesDone = new AtomicLong();

    /** Oldest first; the first is at least RATE_WINDOW old once the fetch is (guarded by this). */
    final Deque<Sample> samples = new ArrayDeque<>();

    /** Written under this; read without it by {@link ModelStates#state}. */
    volatile ModelState state = ModelState.PENDING;

    @Nullable String reason;
    Instant since;
    long bytesTotal;

    /** Written under this; read without it by {@link ModelStates#sourceUnreachable}. */
    volatile @Nullable Stale stale;

    volatile @Nullable Update update;

    final String model;

    Entry(String model, Instant since) {
      this.model = model;
      this.since = since;
    }

    /**
     * Bytes per second from the newest sample at least {@link #RATE_WINDOW} old (else the start of
     * the fetch) to now; records now as a sample at most once a second.
     */
    double rate(Instant now, long done) {
      long windowNanos = RATE_WINDOW.toNanos();
      while (samples.size() > 1 && age(secondOldest(), now) >= windowNanos) {
        samples.removeFirst();
      }
      Sample base = samples.peekFirst();
      if (base == null) {
        return 0;
      }
      if (age(samples.peekLast(), now) >= SAMPLE_SPACING_NANOS) {
        if (samples.size() >= MAX_SAMPLES) {
          samples.removeFirst();
        }
        samples.addLast(new Sample(now, done));
      }
      long nanos = age(base, now);
      return nanos <= 0 ? 0 : Math.max(0, done - base.bytes()) * 1e9 / nanos;
    }

    private Sample secondOldest() {
      var it = samples.iterator();
      it.next();
      return it.next();
    }

    private static long age(Sample sample, Instant now) {
      return Duration.between(sample.at(), now).toNanos();
    }

    void set(ModelState state, @Nullable String reason, Instant since) {
      this.state = state;
      this.reason = reason;
      this.since = since;
    }
  }
}
