package dev.modelcache.inference;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelEntry.Prepared;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelMemoryMeters;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.StoreException;
import dev.modelcache.threads.NamedThreads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Brings models into their engines for the registry: prepares a snapshot (its task, metadata and
 * engine), loads it at once or, for {@code load: lazy}, on its first request in a thread of its
 * own. The lazy loads are tracked, so that {@link #close()} waits for those under way instead of
 * leaving a model loading into a stopped registry.
 */
final class ModelLoader implements AutoCloseable {
  // the registry's category, as the operator knows it: a model's load is the registry's story
  private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(30);

  private final ModelStates states;
  private final Metrics metrics;
  private final ObjectMapper json;
  private final TaskFactory tasks;
  private final LongSupplier nanoClock;
  private final LoadMeter meter;
  private final ModelMemoryMeters memoryMeters;
  private final long maxModelMemory;
  private final List<Thread> lazyLoads = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  /**
   * @param nanoClock what deadlines are read against ({@link System#nanoTime} but in tests)
   * @param meter measures each load's memory
   * @param maxModelMemory the most one model may take ({@code server.max_model_memory}), 0: none
   */
  ModelLoader(
      ModelStates states,
      Metrics metrics,
      ObjectMapper json,
      TaskFactory tasks,
      LongSupplier nanoClock,
      LoadMeter meter,
      long maxModelMemory) {
    this.states = states;
    this.metrics = metrics;
    this.json = json;
    this.tasks = tasks;
    this.nanoClock = nanoClock;
    this.meter = meter;
    this.memoryMeters = new ModelMemoryMeters(metrics.registry());
    this.maxModelMemory = maxModelMemory;
  }

  /** Checks the snapshot's files and makes the model's task; reads its metadata and engine. */
  Prepared prepare(ModelConfig model, InstalledSnapshot snapshot) throws ModelLoadException {
    try {
      // the bytes the engine reads are those verification hashed: CacheStore.realPath for both
      CacheStore.checkServable(snapshot);
    } catch (StoreException e) {
      throw new ModelLoadException(model.name() + " - " + e.getMessage(), e);
    }
    return new Prepared(
        snapshot,
        tasks.create(model, snapshot.dir()),
        ModelMetadata.read(snapshot.dir(), json, model.name()),
        choiceOf(model, snapshot));
  }

  /** The engine and model file {@code model}'s files pick, or null when they pick none. */
  private static Engines.@Nullable Choice choiceOf(ModelConfig model, InstalledSnapshot snapshot) {
    try {
      return Engines.resolve(model, snapshot.dir());
    } catch (ModelLoadException e) {
      return null;
    }
  }

  /** Loads a prepared model into its engine now, and installs it in its entry. */
  LoadedModel<?, ?> load(ModelEntry entry, Prepared prepared) throws ModelLoadException {
    LoadedModel<?, ?> loaded = loadDetached(entry.config, prepared);
    install(entry, loaded);
    return loaded;
  }

  /** Loads a prepared model into its engine now, warm-up included, without serving it yet. */
  LoadedModel<?, ?> loadDetached(ModelConfig model, Prepared prepared) throws ModelLoadException {
    Engines.Choice choice = prepared.choice();
    long fileBytes =
        choice == null ? 0 : fileBytes(prepared.snapshot().dir().resolve(choice.modelFile()));
    if (choice != null && maxModelMemory > 0 && fileBytes > maxModelMemory) {
      throw new ModelLoadException(
          model.name()
              + " - its model file "
              + choice.modelFile()
              + " is "
              + ByteSize.human(fileBytes)
              + ", over server.max_model_memory "
              + ByteSize.human(maxModelMemory)
              + ", and loaded it takes at least that much: not loaded; raise"
              + " server.max_model_memory or serve a smaller model (a quantised or smaller variant)");
    }
    LoadedModel<?, ?> loaded;
    ModelMemory memory;
    try (LoadMeter.Window window = meter.open(choice == null ? model.engine() : choice.engine())) {
      loaded =
          LoadedModel.load(model, prepared.snapshot(), prepared.task(), choice, metrics, nanoClock);
      memory = window.measure(fileBytes);
    }
    if (maxModelMemory > 0 && memory.totalBytes() > maxModelMemory) {
      loaded.close();
      throw new ModelLoadException(overLimit(model, memory));
    }
    loaded.measured(model.name(), memory, memoryMeters);
    if (loaded.unbatched() != null) {
      log.warn(
          "{} - batching would change its answers: {}; batch.max_size {} is lowered to 1, so"
              + " that every item runs alone and gets the answer it gets alone",
          model.name(),
          loaded.unbatched(),
          model.batchMaxSize());
    }
    metrics.loaded(model.name(), loaded.loadTime());
    metrics.modelInfo(model.name(), loaded.engine(), model.task().toString(), device(loaded));
    return loaded;
  }

  private String overLimit(ModelConfig model, ModelMemory memory) {
    return model.name()
        + " - uses "
        + ByteSize.human(memory.totalBytes())
        + " once loaded ("
        + ByteSize.human(memory.nativeBytes())
        + " native, "
        + ByteSize.human(memory.heapBytes())
        + " heap, measured across its load and warm-up"
        + (memory.overlapped() ? " beside another model's load" : "")
        + "), over server.max_model_memory "
        + ByteSize.human(maxModelMemory)
        + ": unloaded; raise server.max_model_memory, lower its workers or serve a smaller model";
  }

  private static long fileBytes(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return 0; // the load itself says what is wrong with the file
    }
  }

  /** What the READY log line says of a loaded model. */
  static String describe(ModelConfig model, LoadedModel<?, ?> loaded, Prepared prepared) {
    return loaded.modelFile()
        + " on "
        + device(loaded)
        + " in "
        + loaded.loadTime().toMillis()
        + " ms, warm-up included ("
        + model.workers()
        + " workers, batch up to "
        + loaded.batchMaxSize()
        + (prepared.metadata().labels().isEmpty()
            ? ""
            : ", " + prepared.metadata().labels().size() + " labels")
        + ")"
        + (loaded.memory() == null
            ? ""
            : ", takes " + ByteSize.human(Objects.requireNonNull(loaded.memory()).totalBytes()));
  }

  static String device(LoadedModel<?, ?> model) {
    return model.device().toString();
  }

  private void install(ModelEntry entry, LoadedModel<?, ?> loaded) {
    LoadedModel<?, ?> previous = entry.loaded;
    entry.loaded = loaded;
    if (previous != null) {
      previous.close();
    }
    if (closed) {
      loaded.close();
    }
  }

  /**
   * The model of a READY entry: the loaded one, else (for {@code load: lazy}) the one its first
   * load brings, waited for until {@code deadline} ({@link #nanoClock}).
   */
  LoadedModel<?, ?> loadedOrLoad(ModelEntry entry, long deadline) {
    String name = entry.name();
    if (entry.retired) {
      throw new UnknownModelException("model '" + name + "' is no longer configured");
    }
    if (states.state(name) != ModelState.READY) {
      throw notReady(states.status(name));
    }
    LoadedModel<?, ?> loaded = entry.acquire();
    if (loaded != null) {
      return loaded;
    }
    if (entry.retired) {
      throw new UnknownModelException("model '" + name + "' is no longer configured");
    }
    if (entry.prepared == null) {
      throw notReady(states.status(name));
    }
    CompletableFuture<LoadedModel<?, ?>> loading;
    synchronized (entry) {
      if (entry.loading == null) {
        entry.loading = startLazyLoad(entry);
      }
      loading = entry.loading;
    }
    try {
      LoadedModel<?, ?> first =
          loading.get(Math.max(0, deadline - nanoClock.getAsLong()), TimeUnit.NANOSECONDS);
      first.acquire();
      return first;
    } catch (TimeoutException e) {
      throw new InferenceTimeoutException(
          name
              + " - still loading (load: lazy) when timeout_ms ("
              + entry.config.timeoutMs()
              + " ms) ran out; retry shortly");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelNotReadyException(name + " - interrupted while it loads", e);
    } catch (ExecutionException e) {
      throw notReady(states.status(name));
    }
  }

  private CompletableFuture<LoadedModel<?, ?>> startLazyLoad(ModelEntry entry) {
    String name = entry.name();
    if (closed) {
      throw new ModelNotReadyException(name + " is shutting down");
    }
    CompletableFuture<LoadedModel<?, ?>> loading = new CompletableFuture<>();
    Thread thread =
        NamedThreads.named("modelcache-load-" + name)
            .newThread(
                () -> {
                  MDC.put("model", name);
                  try {
                    log.info("{} - first request: loading (load: lazy)", name);
                    Prepared prepared = Objects.requireNonNull(entry.prepared, "added prepared");
                    LoadedModel<?, ?> loaded = load(entry, prepared);
                    log.info("{} - loaded: {}", name, describe(entry.config, loaded, prepared));
                    loading.complete(loaded);
                  } catch (ModelLoadException | RuntimeException e) {
                    states.failed(name, e.getMessage());
                    log.error("{} - FAILED: {}", name, e.getMessage());
                    loading.completeExceptionally(e);
                  } finally {
                    lazyLoads.remove(Thread.currentThread());
                  }
                });
    lazyLoads.add(thread);
    thread.start();
    return loading;
  }

  static ModelNotReadyException notReady(ModelStatus status) {
    return new ModelNotReadyException(
        status.model()
            + " is "
            + status.state()
            + (status.reason() == null
                ? "; retry when /health/ready answers 200"
                : ": " + status.reason()));
  }

  /**
   * Refuses new lazy loads and waits (at most {@link #CLOSE_WAIT} in all) for those under way; a
   * model whose load ends after this closes itself at install.
   */
  @Override
  public void close() {
    closed = true;
    long until = System.nanoTime() + CLOSE_WAIT.toNanos();
    for (Thread thread : lazyLoads) {
      try {
        thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (thread.isAlive()) {
        log.warn("{} still loads {} s after close", thread.getName(), CLOSE_WAIT.toSeconds());
      }
    }
  }
}
