package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.Config.Limits;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.Metrics.Outcome;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.StoreException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The models loaded in their engines, and the one entry point for inference on them: {@code POST
 * /inference} (JSON trees, each task reading its own request format) and the Open Inference
 * Protocol ({@link V2Tensor}s). Each request waits at most the model's {@code timeout_ms}, queue
 * and (for {@code load: lazy}) the first load included.
 *
 * <pre>{@code
 * registry.load(modelConfig, snapshot);
 * ObjectNode answer = registry.infer("iris", requestNode);
 * }</pre>
 */
public final class ModelRegistry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);

  private final Map<String, Entry> entries = new LinkedHashMap<>();
  private final ModelStates states;
  private final Metrics metrics;
  private final ObjectMapper json;
  private final TaskFactory tasks;
  private final int maxItems;
  private volatile boolean closed;

  /** What the registry knows of one configured model. */
  private static final class Entry {
    final ModelConfig config;
    volatile LoadedModel<?, ?> loaded;

    /** Set once its files are ready: the snapshot, its task and labels. */
    volatile Prepared prepared;

    /** The lazy load under way or done (guarded by this). */
    CompletableFuture<LoadedModel<?, ?>> loading;

    Entry(ModelConfig config) {
      this.config = config;
    }
  }

  /**
   * @param choice the engine and model file its files pick, decided once here; null when they pick
   *     none (the load then fails with the reason)
   */
  private record Prepared(
      InstalledSnapshot snapshot, Task<?, ?> task, ModelMetadata metadata, Engines.Choice choice) {}

  /**
   * A registry whose tasks come from {@code tasks} ({@code BuiltInTasks.factory(json)}; tests wrap
   * it).
   */
  public ModelRegistry(
      List<ModelConfig> models,
      ModelStates states,
      Metrics metrics,
      ObjectMapper json,
      TaskFactory tasks) {
    this(models, states, metrics, json, tasks, Limits.DEFAULT.maxItems());
  }

  /**
   * @param maxItems the most items one request may hold ({@code server.limits.max_items})
   */
  public ModelRegistry(
      List<ModelConfig> models,
      ModelStates states,
      Metrics metrics,
      ObjectMapper json,
      TaskFactory tasks,
      int maxItems) {
    models.forEach(m -> entries.put(m.name(), new Entry(m)));
    this.states = states;
    this.metrics = metrics;
    this.json = json;
    this.tasks = tasks;
    this.maxItems = maxItems;
  }

  /**
   * Makes the model's task from the snapshot; unless the model is {@code load: lazy}, loads it into
   * its engine, runs a warm-up inference on each worker and starts the workers. Marks it READY.
   */
  public void load(ModelConfig model, InstalledSnapshot snapshot) throws ModelLoadException {
    Entry entry = entry(model.name());
    states.loading(model.name());
    try {
      // the bytes the engine reads are those verification hashed: CacheStore.realPath for both
      CacheStore.checkServable(snapshot);
    } catch (StoreException e) {
      throw new ModelLoadException(model.name() + " - " + e.getMessage(), e);
    }
    Prepared prepared =
        new Prepared(
            snapshot,
            tasks.create(model, snapshot.dir()),
            ModelMetadata.read(snapshot.dir(), json, model.name()),
            choiceOf(model, snapshot));
    entry.prepared = prepared;
    if (model.lazy()) {
      states.ready(model.name());
      log.info("{} - READY (load: lazy): loads into its engine on the first request", model.name());
      return;
    }
    LoadedModel<?, ?> loaded = loadNow(entry.config, prepared);
    install(entry, loaded);
    states.ready(model.name());
    log.info("{} - READY: {}", model.name(), describe(model, loaded, prepared));
  }

  private LoadedModel<?, ?> loadNow(ModelConfig model, Prepared prepared)
      throws ModelLoadException {
    LoadedModel<?, ?> loaded =
        LoadedModel.load(model, prepared.snapshot(), prepared.task(), prepared.choice(), metrics);
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

  private static String describe(ModelConfig model, LoadedModel<?, ?> loaded, Prepared prepared) {
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
        + ")";
  }

  private void install(Entry entry, LoadedModel<?, ?> loaded) {
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
   * Runs a {@code POST /inference} request ({@code {"inputs": ...}}) on {@code model}.
   *
   * @throws UnknownModelException when no such model is configured (404)
   * @throws ModelNotReadyException when it is not READY (503)
   * @throws InvalidInputException when the inputs do not fit it (400)
   * @throws QueueFullException when its queue is full (503)
   * @throws InferenceTimeoutException when no answer came within its {@code timeout_ms} (504)
   * @throws InferenceFailedException when the forward pass failed otherwise (the cause says how)
   */
  public ObjectNode infer(String model, JsonNode request) {
    return measured(
        model,
        loaded -> {
          JsonNode inputs = request.get("inputs");
          if (inputs == null || inputs.isNull()) {
            throw new InvalidInputException(
                "request has no 'inputs': send {\"inputs\": [[...numbers...]]}");
          }
          return answer(loaded, inputs);
        });
  }

  /**
   * Runs a raw request body (an image posted as {@code image/png}) on {@code model} when its task
   * takes one; the same failures as {@link #infer}.
   */
  public ObjectNode inferRaw(String model, String contentType, byte[] body) {
    return measured(model, loaded -> answerRaw(loaded, contentType, body));
  }

  /** Whether {@code model}'s task takes a raw body of {@code contentType}; false before load. */
  public boolean takesRaw(String model, String contentType) {
    Entry entry = entries.get(model);
    Prepared prepared = entry == null ? null : entry.prepared;
    return prepared != null
        && prepared.task() instanceof RawBodyTask<?> raw
        && raw.acceptsRaw(contentType);
  }

  private <I, O> ObjectNode answerRaw(Run<I, O> run, String contentType, byte[] body) {
    Task<I, O> task = run.model().task();
    if (!(task instanceof RawBodyTask<?> raw) || !raw.acceptsRaw(contentType)) {
      throw new InvalidInputException(
          run.config().name()
              + " ("
              + task.name()
              + ") takes no '"
              + contentType
              + "' body; send application/json");
    }
    @SuppressWarnings("unchecked")
    List<I> items = (List<I>) raw.parseRaw(body);
    return render(run, run.await(items));
  }

  private <I, O> ObjectNode answer(Run<I, O> run, JsonNode inputs) {
    Task<I, O> task = run.model().task();
    return render(run, run.await(task.parse(inputs)));
  }

  private <I, O> ObjectNode render(Run<I, O> run, List<O> outputs) {
    Task<I, O> task = run.model().task();
    ObjectNode answer = json.createObjectNode();
    answer.put("model", run.config().name());
    answer.put("revision", run.model().snapshot().id());
    if (task instanceof AnswerRenderer<?>) {
      @SuppressWarnings("unchecked")
      AnswerRenderer<O> renderer = (AnswerRenderer<O>) task;
      renderer.renderAnswer(outputs, answer);
    } else {
      answer.set("outputs", task.render(outputs));
    }
    return answer;
  }

  /** The outputs of an Open Inference Protocol request, and the revision that answered. */
  public record V2Answer(String revision, List<V2Tensor> outputs) {}

  /**
   * Runs an Open Inference Protocol request on {@code model}; the same failures as {@link #infer}.
   *
   * @param version the revision the request names, or null for the one served
   */
  public V2Answer inferV2(String model, String version, List<V2Tensor> inputs) {
    checkVersion(entry(model), version);
    return measured(model, loaded -> answerV2(loaded, inputs));
  }

  private <I, O> V2Answer answerV2(Run<I, O> run, List<V2Tensor> inputs) {
    Task<I, O> task = run.model().task();
    List<O> outputs = run.await(task.parseV2(inputs));
    return new V2Answer(run.model().snapshot().id(), task.renderV2(outputs));
  }

  /** One request on one loaded model, with its deadline. */
  private record Run<I, O>(
      ModelConfig config, LoadedModel<I, O> model, long deadline, int maxItems) {
    List<O> await(List<I> items) {
      if (items.isEmpty()) {
        throw new InvalidInputException("the request has no inputs to run");
      }
      if (items.size() > maxItems) {
        throw new TooManyItemsException(
            config.name()
                + " - the request holds "
                + items.size()
                + " items, more than server.limits.max_items ("
                + maxItems
                + "); send them in requests of at most "
                + maxItems
                + " items");
      }
      return ModelRegistry.await(config, model.submit(items, deadline), deadline);
    }
  }

  private <T> T measured(String model, Function<Run<?, ?>, T> body) {
    Entry entry = entry(model);
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(entry.config.timeoutMs());
    Outcome outcome = Outcome.ERROR;
    try {
      T answer = body.apply(run(entry, deadline));
      outcome = Outcome.SUCCESS;
      return answer;
    } catch (InvalidInputException e) {
      outcome = Outcome.BAD_REQUEST;
      throw e;
    } catch (TooManyItemsException e) {
      outcome = Outcome.BAD_REQUEST;
      metrics.rejected(Metrics.Rejection.ITEMS);
      throw e;
    } catch (ModelNotReadyException e) {
      outcome = Outcome.NOT_READY;
      throw e;
    } catch (QueueFullException e) {
      outcome = Outcome.QUEUE_FULL;
      throw e;
    } catch (InferenceTimeoutException e) {
      outcome = Outcome.TIMEOUT;
      throw e;
    } finally {
      metrics.inference(model, outcome, System.nanoTime() - start);
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private Run<?, ?> run(Entry entry, long deadline) {
    return new Run(entry.config, loadedOrLoad(entry, deadline), deadline, maxItems);
  }

  private static <O> List<O> await(
      ModelConfig config, CompletableFuture<List<O>> result, long deadline) {
    try {
      return result.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      result.cancel(false);
      throw new InferenceTimeoutException(
          config.name()
              + " - no answer within timeout_ms ("
              + config.timeoutMs()
              + " ms); retry later or with fewer inputs, or raise the model's timeout_ms or"
              + " workers");
    } catch (InterruptedException e) {
      result.cancel(false);
      Thread.currentThread().interrupt();
      throw new ModelNotReadyException(config.name() + " - interrupted while waiting", e);
    } catch (ExecutionException e) {
      throw failure(config, e.getCause());
    }
  }

  /**
   * What a failed forward pass throws: our own exceptions as they are, anything else wrapped with
   * the model's name (the HTTP layer's {@code ErrorMapping} tells a bad input from an engine
   * failure by the cause).
   */
  private static RuntimeException failure(ModelConfig config, Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof InvalidInputException invalid) {
        return invalid;
      }
      if (t instanceof ModelNotReadyException notReady) {
        return notReady;
      }
    }
    return new InferenceFailedException(config.name(), cause);
  }

  private LoadedModel<?, ?> loadedOrLoad(Entry entry, long deadline) {
    String name = entry.config.name();
    ModelStatus status = states.status(name);
    LoadedModel<?, ?> loaded = entry.loaded;
    if (status.state() != ModelState.READY || (loaded == null && entry.prepared == null)) {
      throw notReady(status);
    }
    if (loaded != null) {
      return loaded;
    }
    CompletableFuture<LoadedModel<?, ?>> loading;
    synchronized (entry) {
      if (entry.loading == null) {
        entry.loading = startLazyLoad(entry);
      }
      loading = entry.loading;
    }
    try {
      return loading.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
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

  private CompletableFuture<LoadedModel<?, ?>> startLazyLoad(Entry entry) {
    CompletableFuture<LoadedModel<?, ?>> loading = new CompletableFuture<>();
    String name = entry.config.name();
    Thread thread =
        new Thread(
            () -> {
              MDC.put("model", name);
              try {
                log.info("{} - first request: loading (load: lazy)", name);
                LoadedModel<?, ?> loaded = loadNow(entry.config, entry.prepared);
                install(entry, loaded);
                log.info("{} - loaded: {}", name, describe(entry.config, loaded, entry.prepared));
                loading.complete(loaded);
              } catch (ModelLoadException | RuntimeException e) {
                states.failed(name, e.getMessage());
                log.error("{} - FAILED: {}", name, e.getMessage());
                loading.completeExceptionally(e);
              }
            },
            "modelcache-load-" + name);
    thread.setDaemon(true);
    thread.start();
    return loading;
  }

  private static ModelNotReadyException notReady(ModelStatus status) {
    return new ModelNotReadyException(
        status.model()
            + " is "
            + status.state()
            + (status.reason() == null
                ? "; retry when /health/ready answers 200"
                : ": " + status.reason()));
  }

  private Entry entry(String model) {
    Entry entry = entries.get(model);
    if (entry == null) {
      throw new UnknownModelException(
          "model '"
              + (model.length() <= 64 ? model : model.substring(0, 64) + "...")
              + "' is not configured (configured: "
              + String.join(", ", entries.keySet())
              + ")");
    }
    return entry;
  }

  private void checkVersion(Entry entry, String version) {
    Prepared prepared = entry.prepared;
    if (version == null) {
      return;
    }
    if (prepared == null) {
      throw notReady(states.status(entry.config.name()));
    }
    if (!version.equals(prepared.snapshot().id())) {
      throw new UnknownModelException(
          "model '"
              + entry.config.name()
              + "' has no version '"
              + (version.length() <= 64 ? version : version.substring(0, 64) + "...")
              + "'; it serves revision "
              + prepared.snapshot().id());
    }
  }

  /** True when {@code model} (which must be configured) is READY to answer. */
  public boolean isReady(String model) {
    Entry entry = entry(model);
    return states.status(model).state() == ModelState.READY && entry.prepared != null;
  }

  /** The Open Inference Protocol metadata of a model. */
  public record V2Metadata(
      String name,
      String revision,
      String platform,
      List<V2Tensor.Spec> inputs,
      List<V2Tensor.Spec> outputs) {}

  /**
   * The Open Inference Protocol metadata of {@code model}: its inputs and outputs as its task sees
   * them.
   *
   * @param version the revision the request names, or null
   * @throws ModelNotReadyException before its files are ready
   */
  public V2Metadata v2Metadata(String model, String version) {
    Entry entry = entry(model);
    checkVersion(entry, version);
    Prepared prepared = entry.prepared;
    if (prepared == null || states.status(model).state() != ModelState.READY) {
      throw notReady(states.status(model));
    }
    return new V2Metadata(
        model,
        prepared.snapshot().id(),
        Engines.platform(engineOf(entry, prepared)),
        prepared.task().inputSpecs(),
        prepared.task().outputSpecs());
  }

  /** The engine a model runs on: the loaded one's, else the one its files pick. */
  private static String engineOf(Entry entry, Prepared prepared) {
    LoadedModel<?, ?> loaded = entry.loaded;
    if (loaded != null) {
      return loaded.engine();
    }
    return prepared.choice() != null ? prepared.choice().engine() : entry.config.engine();
  }

  /** The engine and model file {@code model}'s files pick, or null when they pick none. */
  private static Engines.Choice choiceOf(ModelConfig model, InstalledSnapshot snapshot) {
    try {
      return Engines.resolve(model, snapshot.dir());
    } catch (ModelLoadException e) {
      return null;
    }
  }

  /** Facts about a model whose files are ready for {@code /models}, or empty before. */
  public Optional<LoadedInfo> info(String model) {
    Entry entry = entries.get(model);
    Prepared prepared = entry == null ? null : entry.prepared;
    if (prepared == null) {
      return Optional.empty();
    }
    LoadedModel<?, ?> m = entry.loaded;
    return Optional.of(
        new LoadedInfo(
            prepared.snapshot(),
            m != null,
            m == null ? null : m.modelFile(),
            engineOf(entry, prepared),
            m == null ? null : device(m),
            m == null ? null : m.loadTime(),
            m == null ? null : m.warmupTime(),
            prepared.metadata().labels(),
            m == null ? entry.config.batchMaxSize() : m.batchMaxSize(),
            m == null ? null : m.unbatched()));
  }

  /**
   * What {@code /models} reports about a model whose files are ready.
   *
   * @param loaded false for a {@code load: lazy} model before its first request; the fields after
   *     it are null then
   * @param batchMaxSize the most items one forward pass holds: {@code batch.max_size}, or 1 when
   *     batching would change the model's answers
   * @param unbatched why batching would change its answers, or null
   */
  public record LoadedInfo(
      InstalledSnapshot snapshot,
      boolean loaded,
      String modelFile,
      String engine,
      String device,
      Duration loadTime,
      Duration warmupTime,
      List<String> labels,
      int batchMaxSize,
      String unbatched) {}

  private static String device(LoadedModel<?, ?> model) {
    return model.device().toString();
  }

  @Override
  public void close() {
    closed = true;
    for (Entry entry : entries.values()) {
      LoadedModel<?, ?> loaded = entry.loaded;
      if (loaded != null) {
        loaded.close();
      }
    }
  }

  static String firstLine(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message =
        root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
