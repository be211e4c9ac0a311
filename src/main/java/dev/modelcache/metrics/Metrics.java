package dev.modelcache.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * modelcache's own meters. Names are Micrometer names; the Prometheus registry renders them as the
 * names of {@code docs/metrics.md} ({@code modelcache.fetch.bytes} with base unit bytes becomes
 * {@code modelcache_fetch_bytes_total}). Label values are model names from the config only, never
 * request data.
 */
public final class Metrics {
  public static final String INFERENCE_REQUESTS = "modelcache.inference.requests";
  public static final String INFERENCE_DURATION = "modelcache.inference.duration";
  public static final String INFERENCE_QUEUE_DEPTH = "modelcache.inference.queue.depth";
  public static final String INFERENCE_BATCH_SIZE = "modelcache.inference.batch.size";
  public static final String MODEL_STATE = "modelcache.model.state";
  public static final String MODEL_LOAD_DURATION = "modelcache.model.load.duration";
  public static final String MODEL_INFO = "modelcache.model.info";
  public static final String MODEL_SOURCE_UNREACHABLE = "modelcache.model.source.unreachable";
  public static final String FETCH_BYTES = "modelcache.fetch.bytes";
  public static final String FETCH_DURATION = "modelcache.fetch.duration";
  public static final String FETCH_RETRIES = "modelcache.fetch.retries";
  public static final String VERIFY_FAILURES = "modelcache.verify.failures";
  public static final String CACHE_SIZE = "modelcache.cache.size";
  public static final String CACHE_FREE = "modelcache.cache.free";
  public static final String HTTP_REQUESTS_ACTIVE = "modelcache.http.requests.active";
  public static final String INFERENCE_REJECTED = "modelcache.inference.rejected";
  public static final String CONFIG_RELOAD = "modelcache.config.reload";
  public static final String MODEL_UPDATE_FAILED = "modelcache.model.update.failed";
  public static final String GRPC_REQUESTS = "modelcache.grpc.requests";
  public static final String GRPC_CALLS_ACTIVE = "modelcache.grpc.calls.active";

  /** Why admission control refused an inference request, the {@code reason} label. */
  public enum Rejection {
    /** 503: the requests in flight already hold the memory budget. */
    MEMORY,
    /** 413: the request alone would need more than the whole memory budget. */
    TOO_LARGE,
    /** 413: more items than {@code server.limits.max_items}. */
    ITEMS;

    String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** How an inference request ended, the {@code outcome} label. */
  public enum Outcome {
    SUCCESS,
    BAD_REQUEST,
    NOT_READY,
    QUEUE_FULL,
    TIMEOUT,
    ERROR;

    String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private final MeterRegistry registry;
  private final Map<String, AtomicInteger> queueDepths = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> loadMillis = new ConcurrentHashMap<>();
  private final Map<String, ModelMeters> modelMeters = new ConcurrentHashMap<>();

  public Metrics(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  /**
   * What the per-model gauges read of each model's life; the inference layer's model states. Reads
   * take no lock, so that a scrape never waits for a fetch or a request.
   */
  public interface ModelView {
    /** Every state a model can be in, in order: one {@code modelcache_model_state} series each. */
    List<String> stateNames();

    /** The name of the state {@code model} is in now. */
    String stateName(String model);

    /** True while {@code model} serves a cached revision because its source was unreachable. */
    boolean sourceUnreachable(String model);

    /** True while the last attempt to bring in a new revision of {@code model} failed. */
    default boolean updateFailed(String model) {
      return false;
    }
  }

  /**
   * Registers the per-model meters: one {@code modelcache_model_state} series per model and state,
   * and the request counters of every outcome and the duration histogram at zero, so that alert
   * rules ({@code rate()}, {@code absent()}) see each configured model before its first request.
   */
  public void bindModels(ModelView states, Iterable<String> models) {
    for (String model : models) {
      ModelMeters meters = modelMeters(model);
      for (Outcome outcome : Outcome.values()) {
        meters.requests(outcome);
      }
      meters.duration();
      Gauge.builder(INFERENCE_QUEUE_DEPTH, queueDepth(model), AtomicInteger::get)
          .tags("model", model)
          .strongReference(true)
          .description("Inference requests waiting in the model's queue for a worker")
          .register(registry);
      for (String state : states.stateNames()) {
        Gauge.builder(MODEL_STATE, states, s -> s.stateName(model).equals(state) ? 1 : 0)
            .strongReference(true)
            .tags("model", model, "state", state)
            .description("1 for the state each model is in, 0 for the others")
            .register(registry);
      }
      Gauge.builder(MODEL_SOURCE_UNREACHABLE, states, s -> s.sourceUnreachable(model) ? 1 : 0)
          .strongReference(true)
          .tags("model", model)
          .description(
              "1 while the model serves a revision from the cache because its source was"
                  + " unreachable at the last check, else 0")
          .register(registry);
      Gauge.builder(MODEL_UPDATE_FAILED, states, s -> s.updateFailed(model) ? 1 : 0)
          .strongReference(true)
          .tags("model", model)
          .description(
              "1 while the last attempt to bring in a new revision or config of the model failed"
                  + " (the old one serves), else 0")
          .register(registry);
      AtomicLong millis = loadMillis.computeIfAbsent(model, m -> new AtomicLong());
      Gauge.builder(MODEL_LOAD_DURATION, millis, m -> m.get() / 1000.0)
          .strongReference(true)
          .tags("model", model)
          .baseUnit("seconds")
          .description("How long the last load of the model into its engine took")
          .register(registry);
      verifyFailures(model);
    }
  }

  /**
   * Registers the cache size and free-space gauges.
   *
   * @param cacheBytes counts the bytes under the cache (a walk of the volume); called at most every
   *     30 s, so a scrape stays cheap
   */
  public void bindCache(Path cacheDir, LongSupplier cacheBytes) {
    CachedSize size = new CachedSize(cacheBytes);
    // Gauges hold their object weakly: without a strong reference the walker would be collected
    // and the gauge would read NaN.
    Gauge.builder(CACHE_SIZE, size, CachedSize::get)
        .strongReference(true) // nothing else holds it: a weak reference reads NaN after a GC
        .baseUnit("bytes")
        .description("Bytes of files under the cache directory")
        .register(registry);
    Gauge.builder(CACHE_FREE, cacheDir, dir -> freeBytes(dir))
        .strongReference(true)
        .baseUnit("bytes")
        .description("Usable free bytes on the cache volume")
        .register(registry);
  }

  /** Registers the gauge of HTTP requests being handled (the ones a graceful stop waits for). */
  public void bindHttp(IntSupplier activeRequests) {
    Gauge.builder(HTTP_REQUESTS_ACTIVE, activeRequests, IntSupplier::getAsInt)
        .strongReference(true)
        .description("HTTP requests being handled now, this scrape included")
        .register(registry);
  }

  /** Registers the gauge of gRPC calls being handled (the ones a graceful stop waits for). */
  public void bindGrpc(IntSupplier activeCalls) {
    Gauge.builder(GRPC_CALLS_ACTIVE, activeCalls, IntSupplier::getAsInt)
        .strongReference(true)
        .description("gRPC calls being handled now")
        .register(registry);
  }

  /**
   * Counts a finished gRPC call by its method ({@code ModelInfer}, ...) and status code ({@code
   * OK}, {@code INVALID_ARGUMENT}, ...).
   */
  public void grpcCall(String method, String code) {
    Counter.builder(GRPC_REQUESTS)
        .tags("method", method, "code", code)
        .description("gRPC calls of inference.GRPCInferenceService by method and status code")
        .register(registry)
        .increment();
  }

  /**
   * Counts one inference request of {@code model} by outcome, and times it when it succeeded. The
   * meters are built on a model's first request with that outcome and reused after.
   */
  public void inference(String model, Outcome outcome, long nanos) {
    ModelMeters meters = modelMeters(model);
    meters.requests(outcome).increment();
    if (outcome == Outcome.SUCCESS) {
      meters.duration().record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** Removes every meter labelled with {@code model}, which a reload removed from the config. */
  public void unbindModel(String model) {
    List.copyOf(registry.getMeters()).stream()
        .filter(meter -> model.equals(meter.getId().getTag("model")))
        .forEach(registry::remove);
    modelMeters.remove(model);
    queueDepths.remove(model);
    loadMillis.remove(model);
  }

  /** The meters of config reloads ({@code modelcache_config_reload_total}), at zero. */
  public ReloadMeters bindReload() {
    return new ReloadMeters(registry);
  }

  /**
   * Counts a request refused by admission control ({@code server.limits}) before it reached a
   * model's queue.
   */
  public void rejected(Rejection reason) {
    Counter.builder(INFERENCE_REJECTED)
        .tags("reason", reason.label())
        .description("Inference requests refused by admission control (server.limits), by reason")
        .register(registry)
        .increment();
  }

  public void loaded(String model, Duration took) {
    loadMillis.computeIfAbsent(model, m -> new AtomicLong()).set(took.toMillis());
  }

  /**
   * Registers {@code modelcache_model_info{model,engine,task,device} 1} for a loaded model: what
   * serves it, and where.
   */
  public void modelInfo(String model, String engine, String task, String device) {
    Gauge.builder(MODEL_INFO, () -> 1.0)
        .tags("model", model, "engine", engine, "task", task, "device", device)
        .strongReference(true)
        .description("1 for each loaded model, labelled with its engine, task and device")
        .register(registry);
  }

  public Counter fetchBytes(String model, String source) {
    return Counter.builder(FETCH_BYTES)
        .tags("model", model, "source", source)
        .baseUnit("bytes")
        .description("Bytes read from upstream sources")
        .register(registry);
  }

  public void fetched(String model, Duration took) {
    Timer.builder(FETCH_DURATION)
        .tags("model", model)
        .description("Wall time of completed fetches of a model")
        .register(registry)
        .record(took);
  }

  /** Records how many requests one forward pass of {@code model} served. */
  public void batch(String model, int requests) {
    modelMeters(model).batchSize().record(requests);
  }

  /** How many requests wait in the queue of {@code model}; the inference layer counts them. */
  public AtomicInteger queueDepth(String model) {
    return queueDepths.computeIfAbsent(model, m -> new AtomicInteger());
  }

  public Counter fetchRetries(String model, String source) {
    return Counter.builder(FETCH_RETRIES)
        .tags("model", model, "source", source)
        .description(
            "Retries of source requests after a failure that may pass (429, 5xx, a cut connection)")
        .register(registry);
  }

  public Counter verifyFailures(String model) {
    return Counter.builder(VERIFY_FAILURES)
        .tags("model", model)
        .description("Files whose bytes did not match their expected SHA-256")
        .register(registry);
  }

  private ModelMeters modelMeters(String model) {
    return modelMeters.computeIfAbsent(model, ModelMeters::new);
  }

  /**
   * The per-request meters of one model, each built and registered once (the request counters and
   * the histogram when the model is bound, the batch summary on first use), so that a request costs
   * a map lookup and no builder.
   */
  private final class ModelMeters {
    private final String model;
    private final Map<Outcome, Counter> requests = new ConcurrentHashMap<>();
    private volatile @Nullable Timer duration;
    private volatile @Nullable DistributionSummary batchSize;

    ModelMeters(String model) {
      this.model = model;
    }

    Counter requests(Outcome outcome) {
      return requests.computeIfAbsent(
          outcome,
          o ->
              Counter.builder(INFERENCE_REQUESTS)
                  .tags("model", model, "outcome", o.label())
                  .description("Inference requests by model and outcome")
                  .register(registry));
    }

    Timer duration() {
      Timer timer = duration;
      if (timer == null) {
        // registering twice is harmless: the registry hands back the one meter
        timer =
            Timer.builder(INFERENCE_DURATION)
                .tags("model", model)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .description(
                    "Time from request parsed to response ready, for successful inferences")
                .register(registry);
        duration = timer;
      }
      return timer;
    }

    DistributionSummary batchSize() {
      DistributionSummary summary = batchSize;
      if (summary == null) {
        summary =
            DistributionSummary.builder(INFERENCE_BATCH_SIZE)
                .tags("model", model)
                .description("Requests served by one forward pass of the model")
                .register(registry);
        batchSize = summary;
      }
      return summary;
    }
  }

  private static double freeBytes(Path dir) {
    try {
      Path existing = dir;
      while (existing != null && !Files.exists(existing)) {
        existing = existing.getParent();
      }
      return existing == null ? Double.NaN : Files.getFileStore(existing).getUsableSpace();
    } catch (IOException e) {
      return Double.NaN;
    }
  }

  private static final class CachedSize {
    private static final long MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(30);
    private final LongSupplier count;
    private long computedAt;
    private double bytes = Double.NaN;

    CachedSize(LongSupplier count) {
      this.count = count;
    }

    synchronized double get() {
      long now = System.nanoTime();
      if (Double.isNaN(bytes) || now - computedAt > MAX_AGE_NANOS) {
        bytes = count.getAsLong();
        computedAt = now;
      }
      return bytes;
    }
  }
}
