package dev.modelcache.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.grpc.GrpcServer;
import dev.modelcache.http.HttpServer;
import dev.modelcache.inference.MemoryBudget;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelState;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.inference.TaskFactory;
import dev.modelcache.inference.task.BuiltInTasks;
import dev.modelcache.metrics.JvmMetrics;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.CacheLimit;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Verifier;
import dev.modelcache.store.Volume;
import dev.modelcache.threads.NamedThreads;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The running daemon: builds every part from the config, serves HTTP at once (liveness answers
 * while models are still fetching), then in the background verifies what the cache holds ({@code
 * cache.verify}), fetches what is missing or was quarantined, and loads each model. When nothing
 * can be fetched (offline, or a read-only cache) it serves the models as installed and writes
 * nothing.
 *
 * <pre>{@code
 * Daemon daemon = new Daemon(config, Clock.systemUTC());
 * if (daemon.missing().isEmpty()) {
 *   daemon.start().prepared().join(); // every model READY or FAILED
 * }
 * daemon.close();
 * }</pre>
 */
final class Daemon implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Daemon.class);

  private volatile Config config;
  private final PrometheusMeterRegistry prometheus;
  private final ModelStates states;
  private final CacheStore store;
  private final Verifier verifier;
  private final Fetcher fetcher;
  private final ModelRegistry registry;
  private final HttpServer http;
  private final @Nullable GrpcServer grpc; // null unless server.grpc.enabled
  private final CompletableFuture<Void> prepared = new CompletableFuture<>();
  private final JvmMetrics jvmMetrics = new JvmMetrics();
  private final Executor preparer;
  private final Metrics metrics;
  private final Clock clock;
  private volatile @Nullable Reloader reloader;
  private volatile dev.modelcache.store.SignedLock signed;
  private final Sources sources;
  private final NamedThreads progressThread = NamedThreads.named("modelcache-progress");
  private final ScheduledExecutorService progress =
      Executors.newSingleThreadScheduledExecutor(progressThread);
  private final AtomicBoolean closed = new AtomicBoolean();

  /** How often a model served from the cache, its source unreachable, asks the source again. */
  static final java.time.Duration RECHECK_EVERY = java.time.Duration.ofSeconds(60);

  private final java.time.Duration recheckEvery;
  private final NamedThreads recheckThread = NamedThreads.named("modelcache-recheck");
  private final ScheduledExecutorService recheck =
      Executors.newSingleThreadScheduledExecutor(recheckThread);
  private static final NamedThreads PREPARE_THREAD = NamedThreads.named("modelcache-prepare");

  /** A daemon that prepares models on its own thread. */
  Daemon(Config config, Clock clock) {
    this(config, clock, PREPARE_THREAD::start);
  }

  /**
   * A daemon whose model preparation runs on {@code preparer} (tests hold it back to observe
   * PENDING).
   */
  Daemon(Config config, Clock clock, Executor preparer) {
    this(config, clock, preparer, Volume.system());
  }

  /** A daemon on {@code volume} (tests pass a read-only or full one). */
  Daemon(Config config, Clock clock, Executor preparer, Volume volume) {
    this(config, clock, preparer, volume, null);
  }

  /** A daemon whose models' tasks come from {@code tasks} (tests wrap the real ones). */
  static Daemon withTasks(Config config, Clock clock, TaskFactory tasks) {
    return new Daemon(config, clock, PREPARE_THREAD::start, Volume.system(), tasks);
  }

  /**
   * A daemon whose models served from the cache ask their source again every {@code recheckEvery}
   * (tests pass a short one).
   */
  static Daemon withRecheck(Config config, Clock clock, java.time.Duration recheckEvery) {
    return new Daemon(
        config,
        clock,
        PREPARE_THREAD::start,
        Volume.system(),
        null,
        recheckEvery,
        Sources.of(config));
  }

  /** A daemon fetching from {@code sources}, which it closes on shutdown (tests observe that). */
  static Daemon withSources(Config config, Clock clock, Sources sources) {
    return new Daemon(
        config, clock, PREPARE_THREAD::start, Volume.system(), null, RECHECK_EVERY, sources);
  }

  private Daemon(
      Config config, Clock clock, Executor preparer, Volume volume, @Nullable TaskFactory tasks) {
    this(config, clock, preparer, volume, tasks, RECHECK_EVERY, Sources.of(config));
  }

  private Daemon(
      Config config,
      Clock clock,
      Executor preparer,
      Volume volume,
      @Nullable TaskFactory tasks,
      java.time.Duration recheckEvery,
      Sources sources) {
    this.sources = sources;
    this.recheckEvery = recheckEvery;
    this.preparer = preparer;
    this.signed = ConfigOption.signedLock(config);
    var signers = signed.signers(config.models());
    this.config = config;
    ObjectMapper json = new ObjectMapper();
    this.prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    jvmMetrics.bindTo(prometheus);
    Metrics metrics = new Metrics(prometheus);
    this.metrics = metrics;
    this.clock = clock;
    List<String> names = config.models().stream().map(ModelConfig::name).toList();
    this.states =
        new ModelStates(
            names,
            config.models().stream()
                .filter(ModelConfig::required)
                .map(ModelConfig::name)
                .collect(Collectors.toSet()),
            clock);
    metrics.bindModels(states, names);
    metrics.bindCache(config.cache().dir(), () -> CacheStore.bytesUnder(config.cache().dir()));
    this.store = new CacheStore(config.cache().dir(), config.cache().hubDir(), volume);
    this.verifier = new Verifier(store, metrics, clock);
    this.registry =
        new ModelRegistry(
            config.models(),
            states,
            metrics,
            json,
            tasks == null ? BuiltInTasks.factory(json) : tasks,
            config.server());
    CacheLimit limit =
        CacheLimits.forDaemon(config, store, this::keep, prometheus, progress, clock);
    this.fetcher =
        new Fetcher(
            store, sources.byScheme(), states, metrics, clock, config.cache().offline(), limit);
    // HTTP and gRPC requests in flight spend one heap: one budget for both.
    MemoryBudget budget =
        new MemoryBudget(config.server().limits().memoryBudget(Runtime.getRuntime().maxMemory()));
    this.http =
        new HttpServer(
            config.server(), config.models(), states, registry, prometheus, json, budget, signers);
    metrics.bindHttp(http::activeRequests);
    this.grpc =
        config.server().grpc().enabled()
            ? new GrpcServer(config.server(), registry, states, budget, metrics)
            : null;
  }

  /**
   * One {@code FAILED <model>: ...} line per model or file that is absent and cannot be fetched
   * (offline, or a read-only cache); {@code serve} exits listing them instead of starting.
   */
  List<String> missing() throws IOException {
    return Preflight.missing(config, store, store.writable());
  }

  /** Starts HTTP (and gRPC) and the background preparation of every model; returns at once. */
  Daemon start() {
    // Preparation first: loading the engine overlaps with Jetty's start on another core.
    preparer.execute(this::prepareAll);
    http.start();
    if (grpc != null) {
      grpc.start();
    }
    // Periodic tasks: their futures only end when close() shuts the executors down.
    var unused =
        progress.scheduleAtFixedRate(() -> FetchingLog.log(states, log), 5, 5, TimeUnit.SECONDS);
    unused =
        recheck.scheduleWithFixedDelay(
            () -> StaleRecheck.run(config.models(), states, fetcher, closed),
            recheckEvery.toMillis(),
            recheckEvery.toMillis(),
            TimeUnit.MILLISECONDS);
    return this;
  }

  /** What the cache limit must not evict: the models and lockfile in force, the loaded versions. */
  private CacheLimit.Keep keep() {
    return new CacheLimit.Keep(config.models(), signed.lockfile(), registry.snapshotsInUse());
  }

  /** Makes the reloader of the config (SIGHUP, {@code server.reload.watch}), reading loader's. */
  Reloader reloader(java.util.function.Supplier<Config> loader) {
    var parts =
        new ModelUpdates.Parts(
            states, registry, http, metrics, store, verifier, fetcher, sources, clock);
    Reloader made = new Reloader(config, signed, loader, parts, prepared, this::configured);
    reloader = made;
    return made;
  }

  private void configured(Config next, dev.modelcache.store.SignedLock nextSigned) {
    config = next;
    signed = nextSigned;
  }

  /** Completes when every model is READY or FAILED. */
  CompletableFuture<Void> prepared() {
    return prepared;
  }

  int port() {
    return http.port();
  }

  ModelStates states() {
    return states;
  }

  HttpServer http() {
    return http;
  }

  /** The gRPC port, or -1 when {@code server.grpc} is not enabled. */
  int grpcPort() {
    return grpc == null ? -1 : grpc.port();
  }

  private void prepareAll() {
    try {
      boolean writable = store.writable();
      if (!writable) {
        log.warn(
            "cache {} is read-only: serving the models as installed; nothing will be fetched,"
                + " quarantined or written there",
            store.root());
      }
      Map<String, Verifier.Report> reports = new HashMap<>();
      try {
        config.models().forEach(m -> states.verifying(m.name()));
        for (Verifier.Report report : verifier.verify(config.models(), config.cache().verify())) {
          reports.put(report.model().name(), report);
        }
      } catch (IOException e) {
        log.error("verification of the cache failed: {}", e.getMessage());
      }
      for (ModelConfig model : config.models()) {
        if (closed.get()) {
          return;
        }
        MDC.put("model", model.name());
        try {
          signed.requireSigned(model);
          InstalledSnapshot snapshot = prepare(model, reports.get(model.name()), writable);
          signed.requireNamed(model, snapshot);
          registry.load(model, snapshot);
        } catch (Exception e) {
          if (closed.get()) {
            return; // stopped while preparing: not a failure of the model
          }
          states.failed(model.name(), e.getMessage());
          log.error("{} - FAILED: {}", model.name(), e.getMessage());
          log.debug("{} - failure detail", model.name(), e);
        } finally {
          MDC.remove("model");
        }
      }
      log.info(
          "{} of {} models READY; readiness is {}",
          states.all().stream().filter(s -> s.state() == ModelState.READY).count(),
          config.models().size(),
          states.ready() ? "UP" : "DOWN (a required model is not READY: see /health)");
    } finally {
      prepared.complete(null);
    }
  }

  /**
   * The snapshot to load: fetched (which brings back what verification found missing or moved to
   * quarantine) when the model can be fetched, else the one installed, which must have verified.
   */
  private InstalledSnapshot prepare(
      ModelConfig model, Verifier.@Nullable Report report, boolean writable) throws IOException {
    String cannotFetch = Preflight.cannotFetch(config, model, writable);
    if (cannotFetch == null) {
      if (report != null && !report.ok() && report.snapshot() != null) {
        log.info("{} - fetching again what verification found missing or changed", model.name());
      }
      // under require_signature: exactly what the signed lockfile names (frozen)
      InstalledSnapshot fetched =
          fetcher.fetch(model, signed.lockfile().model(model.name()), signed.required());
      LockRecorder.record(config, fetcher, model, fetched);
      return fetched;
    }
    return ModelUpdates.installed(model, report, signed.lockfile(), cannotFetch);
  }

  /** Requests (HTTP) and calls (gRPC) being handled now. */
  int activeRequests() {
    return http.activeRequests() + (grpc == null ? 0 : grpc.activeCalls());
  }

  /**
   * Stops: HTTP and gRPC first (no new connections or calls; requests in flight get up to {@code
   * server.shutdown_grace_seconds}, both servers draining at once), then the models, fetches,
   * background tasks, sources (their clients and connections) and meters. Only the first call does
   * anything.
   *
   * @return true when every request in flight finished within the grace period
   */
  boolean shutdown() {
    if (!closed.compareAndSet(false, true)) {
      return true;
    }
    progress.shutdownNow();
    recheck.shutdownNow();
    if (grpc != null) {
      grpc.beginStop(); // drains while HTTP does
    }
    boolean drained = http.stop();
    if (grpc != null) {
      drained &= grpc.stop();
    }
    Optional.ofNullable(reloader).ifPresent(Reloader::close);
    fetcher.limit().usedInUse(); // the last use of what it served
    registry.close();
    fetcher.close();
    progressThread.stop(progress, NamedThreads.STOP_WAIT, log);
    recheckThread.stop(recheck, NamedThreads.STOP_WAIT, log);
    sources.close();
    verifier.close();
    jvmMetrics.close();
    prometheus.close();
    return drained;
  }

  @Override
  public void close() {
    shutdown();
  }
}
