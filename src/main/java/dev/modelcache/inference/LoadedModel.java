package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelMemoryMeters;
import dev.modelcache.store.InstalledSnapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * One model loaded in its engine: the weights once, one {@link Predictor} per worker over them, and
 * the {@link Batcher} that feeds the workers.
 */
final class LoadedModel<I, O> implements AutoCloseable {
  private final Task<I, O> task;
  private final ZooModel<List<I>, List<O>> zoo;
  private final Batcher<I, O> batcher;
  private final InstalledSnapshot snapshot;
  private final String modelFile;
  private final String engine;
  private final Device device;
  private final Duration loadTime;
  private final Duration warmupTime;
  private final @Nullable String unbatched;
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile @Nullable ModelMemory memory;
  private volatile @Nullable Runnable uncount;

  /** Requests that picked this model and have not finished with it (see {@link ModelEntry}). */
  private final java.util.concurrent.atomic.AtomicInteger inFlight =
      new java.util.concurrent.atomic.AtomicInteger();

  private LoadedModel(
      Task<I, O> task,
      ZooModel<List<I>, List<O>> zoo,
      Batcher<I, O> batcher,
      InstalledSnapshot snapshot,
      String modelFile,
      String engine,
      Device device,
      Duration loadTime,
      Duration warmupTime,
      @Nullable String unbatched) {
    this.task = task;
    this.zoo = zoo;
    this.batcher = batcher;
    this.snapshot = snapshot;
    this.modelFile = modelFile;
    this.engine = engine;
    this.device = device;
    this.loadTime = loadTime;
    this.warmupTime = warmupTime;
    this.unbatched = unbatched;
  }

  /**
   * Loads the snapshot into the engine of {@code chosen} (as the registry resolved it), makes
   * {@code workers} predictors, runs the task's warm-up item through each (so that no request pays
   * for the engine's first-call work), checks with batching on that batching leaves answers as they
   * are ({@link BatchCheck}; if not, every item runs alone), and starts the workers.
   *
   * @param nanoClock what the batcher reads request deadlines against
   */
  static <I, O> LoadedModel<I, O> load(
      ModelConfig config,
      InstalledSnapshot snapshot,
      Task<I, O> task,
      Engines.@Nullable Choice chosen,
      Metrics metrics,
      LongSupplier nanoClock)
      throws ModelLoadException {
    long start = System.nanoTime();
    // chosen is null when the files picked no engine: resolving again throws the reason
    Engines.Choice choice = chosen != null ? chosen : Engines.resolve(config, snapshot.dir());
    String engine = choice.engine();
    String file = choice.modelFile();
    Device device = choice.kind().device(config);
    ZooModel<List<I>, List<O>> zoo = Engines.load(config, snapshot, choice, device, task);
    List<Predictor<List<I>, List<O>>> predictors = new ArrayList<>();
    String unbatched = null;
    long loaded = System.nanoTime();
    try {
      for (int i = 0; i < config.workers(); i++) {
        predictors.add(task.newPredictor(zoo, device));
      }
      warmUp(task, predictors);
      if (config.batchMaxSize() > 1) {
        unbatched =
            BatchCheck.reason(task, predictors.get(0), snapshot.dir().resolve(file), engine);
      }
    } catch (Exception e) {
      predictors.forEach(Predictor::close);
      zoo.close();
      throw new ModelLoadException(
          config.name() + " - warm-up inference failed: " + ModelRegistry.firstLine(e), e);
    }
    long end = System.nanoTime();
    Batcher<I, O> batcher =
        new Batcher<>(
            config.name(),
            task,
            predictors,
            unbatched != null ? 1 : config.batchMaxSize(),
            Duration.ofMillis(config.batchMaxDelayMs()),
            config.queue(),
            metrics.queueDepth(config.name()),
            metrics,
            nanoClock);
    return new LoadedModel<>(
        task,
        zoo,
        batcher,
        snapshot,
        file,
        engine,
        device,
        Duration.ofNanos(end - start),
        Duration.ofNanos(end - loaded),
        unbatched);
  }

  /** Runs the task's warm-up item, if it has one, through each predictor. */
  private static <I, O> void warmUp(Task<I, O> task, List<Predictor<List<I>, List<O>>> predictors)
      throws TranslateException {
    I warmup = task.warmupItem();
    if (warmup != null) {
      for (Predictor<List<I>, List<O>> predictor : predictors) {
        predictor.predict(List.of(warmup));
      }
    }
  }

  /**
   * The most items one forward pass holds: {@code batch.max_size}, or 1 (see {@link #unbatched}).
   */
  int batchMaxSize() {
    return batcher.maxItems();
  }

  /**
   * Why batching would change this model's answers ({@link BatchCheck}), so that it runs every item
   * alone; null when it batches as configured.
   */
  @Nullable String unbatched() {
    return unbatched;
  }

  /** See {@link Batcher#arriving}. */
  void arriving(int delta) {
    batcher.arriving(delta);
  }

  /** Queues items for the workers; see {@link Batcher#submit}. */
  CompletableFuture<List<O>> submit(List<I> items, long deadline) {
    return batcher.submit(items, deadline);
  }

  Task<I, O> task() {
    return task;
  }

  /** A request starts using this model. */
  void acquire() {
    inFlight.incrementAndGet();
  }

  /** A request is done with this model; wakes {@link #awaitIdle} at the last one. */
  void release() {
    if (inFlight.decrementAndGet() == 0) {
      synchronized (inFlight) {
        inFlight.notifyAll();
      }
    }
  }

  /**
   * Waits until no request uses this model (one replaced or removed: no new request picks it), at
   * most {@code timeout}; true when none does.
   */
  boolean awaitIdle(Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    synchronized (inFlight) {
      while (inFlight.get() > 0) {
        long left = until - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(inFlight, left);
      }
    }
    return true;
  }

  int inFlight() {
    return inFlight.get();
  }

  InstalledSnapshot snapshot() {
    return snapshot;
  }

  String modelFile() {
    return modelFile;
  }

  String engine() {
    return engine;
  }

  /** Load time, warm-up included. */
  Duration loadTime() {
    return loadTime;
  }

  Duration warmupTime() {
    return warmupTime;
  }

  Device device() {
    return device;
  }

  /** What the model was measured to take; null until {@link #measured} (before it serves). */
  @Nullable ModelMemory memory() {
    return memory;
  }

  /**
   * Sets what the model was measured to take, and counts it in {@code meters} as a copy of {@code
   * model} at its revision until it is closed.
   */
  void measured(String model, ModelMemory memory, ModelMemoryMeters meters) {
    this.memory = memory;
    meters.loaded(model, snapshot.id(), this, memory.totalBytes());
    this.uncount = () -> meters.unloaded(model, snapshot.id(), this);
  }

  /** Stops the workers and closes the model; a second call does nothing. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return; // the registry's close and a lazy load's install may both close it
    }
    Runnable counted = uncount;
    if (counted != null) {
      counted.run(); // no request picks it any more: its memory is the process's to give back
    }
    if (!batcher.stop()) {
      // a worker is still inside a forward pass: closing the model under it would crash the
      // engine's native code and the JVM; the process is stopping or replacing the model, so its
      // memory is left to the process's end
      org.slf4j.LoggerFactory.getLogger(LoadedModel.class)
          .warn(
              "{} - a forward pass still runs; the model stays open instead of being closed under"
                  + " it",
              snapshot.id());
      return;
    }
    zoo.close();
    if (task instanceof AutoCloseable closeable) {
      try {
        closeable.close(); // the text tasks hold a native tokenizer
      } catch (Exception e) {
        org.slf4j.LoggerFactory.getLogger(LoadedModel.class)
            .warn("{} - closing its task failed: {}", snapshot.id(), e.toString());
      }
    }
  }
}
