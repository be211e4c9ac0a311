package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.Config.Limits;
import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.ModelVersions;
import dev.modelcache.inference.ModelEntry.Prepared;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.InstalledSnapshot;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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

  /** Replaced whole by {@link #add} and {@link #remove} (a reload), read without a lock. */
  private volatile Map<String, ModelEntry> entries = new LinkedHashMap<>();

  private final ModelStates states;
  private final ModelLoader loader;
  private final InferenceRunner runner;
  private final ModelSwap swap;
  private final VersionedSwap versioned;
  private final ModelFacts facts = new ModelFacts(() -> entries);

  /** A registry with {@code tasks} ({@code BuiltInTasks.factory(json)}; tests wrap it). */
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
    this(models, states, metrics, json, tasks, maxItems, System::nanoTime);
  }

  /**
   * @param nanoClock what request deadlines and the batchers read ({@link System#nanoTime}; tests
   *     move a fake one)
   */
  public ModelRegistry(
      List<ModelConfig> models,
      ModelStates states,
      Metrics metrics,
      ObjectMapper json,
      TaskFactory tasks,
      int maxItems,
      LongSupplier nanoClock) {
    this(models, states, metrics, json, tasks, maxItems, nanoClock, LoadMeter.PROCESS, 0);
  }

  /** The daemon's registry: {@code server.limits.max_items}, {@code server.max_model_memory}. */
  public ModelRegistry(
      List<ModelConfig> models,
      ModelStates states,
      Metrics metrics,
      ObjectMapper json,
      TaskFactory tasks,
      ServerConfig server) {
    this(
        models,
        states,
        metrics,
        json,
        tasks,
        server.limits().maxItems(),
        System::nanoTime,
        LoadMeter.PROCESS,
        server.maxModelMemory());
  }

  /** With the {@code probe} that loads are measured with, and {@code server.max_model_memory}. */
  ModelRegistry(
      List<ModelConfig> models,
      ModelStates states,
      Metrics metrics,
      ObjectMapper json,
      TaskFactory tasks,
      int maxItems,
      LongSupplier nanoClock,
      LoadMeter.Probe probe,
      long maxModelMemory) {
    models.forEach(m -> entries.put(m.name(), new ModelEntry(m)));
    this.states = states;
    this.loader =
        new ModelLoader(
            states, metrics, json, tasks, nanoClock, new LoadMeter(probe), maxModelMemory);
    this.runner = new InferenceRunner(loader, metrics, json, maxItems, nanoClock);
    this.swap = new ModelSwap(loader, states);
    this.versioned = new VersionedSwap(loader, swap);
  }

  /** Configures {@code model} (a reload added it); {@link #load} then brings it in. */
  public synchronized void add(ModelConfig model) {
    Map<String, ModelEntry> next = new LinkedHashMap<>(entries);
    next.put(model.name(), new ModelEntry(model));
    entries = next;
  }

  /**
   * Stops serving {@code model} (a reload removed it): new requests get 404, those in flight finish
   * (at most {@code drain}), then it is closed.
   */
  public void remove(String model, Duration drain) {
    ModelEntry entry;
    synchronized (this) {
      Map<String, ModelEntry> next = new LinkedHashMap<>(entries);
      entry = next.remove(model);
      entries = next;
    }
    if (entry != null) {
      for (ModelEntry side : entry.revisions.all(entry)) {
        swap.retire(side, drain);
      }
    }
  }

  /**
   * Brings {@code model} (a new revision, or new settings) in beside the version it serves: loads
   * and warms it up, switches requests to it at once, then drains and closes the old one (waiting
   * at most {@code drain}). If anything fails the old one keeps serving.
   *
   * @return the revision served now
   */
  public String swap(ModelConfig model, InstalledSnapshot snapshot, Duration drain)
      throws ModelLoadException {
    return swap(model, snapshot, null, drain);
  }

  /**
   * {@link #swap(ModelConfig, InstalledSnapshot, Duration)} for a model that may keep revisions
   * side by side: {@code canary} is its canary's snapshot (null: none). A revision already loaded
   * (the canary promoted, a previous one) is served as it is, without a reload.
   */
  public String swap(
      ModelConfig model,
      InstalledSnapshot snapshot,
      @Nullable InstalledSnapshot canary,
      Duration drain)
      throws ModelLoadException {
    ModelEntry old = entry(model.name());
    if (!model.versions().equals(ModelVersions.ONE) || !old.revisions.equals(Revisions.NONE)) {
      versioned.apply(old, model, snapshot, canary, drain, this::publish);
      if (states.state(model.name()) != ModelState.READY) {
        states.ready(model.name());
      }
      return snapshot.id();
    }
    swap.replace(old, model, snapshot, drain, this::publish);
    return snapshot.id();
  }

  private synchronized void publish(ModelEntry next) {
    Map<String, ModelEntry> map = new LinkedHashMap<>(entries);
    map.put(next.name(), next);
    entries = map;
  }

  /** The revisions {@code model} has loaded, each with its role; empty before its files are. */
  public List<LoadedRevision> revisions(String model) {
    return facts.revisions(model);
  }

  /** The snapshot folders prepared or loaded now: a cache limit never evicts them. */
  public Set<Path> snapshotsInUse() {
    return facts.snapshotsInUse();
  }

  /** The revision {@code model} serves, or empty before its files are ready. */
  public Optional<String> revision(String model) {
    return facts.revision(model);
  }

  /**
   * Makes the model's task from the snapshot; unless the model is {@code load: lazy}, loads it into
   * its engine, runs a warm-up inference on each worker and starts the workers. Marks it READY.
   */
  public void load(ModelConfig model, InstalledSnapshot snapshot) throws ModelLoadException {
    ModelEntry entry = entry(model.name());
    states.loading(model.name());
    Prepared prepared = loader.prepare(model, snapshot);
    entry.prepared = prepared;
    if (model.lazy()) {
      states.ready(model.name());
      log.info("{} - READY (load: lazy): loads into its engine on the first request", model.name());
      return;
    }
    LoadedModel<?, ?> loaded = loader.load(entry, prepared);
    states.ready(model.name());
    log.info("{} - READY: {}", model.name(), ModelLoader.describe(model, loaded, prepared));
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
    JsonNode named = request.get("revision");
    if (named != null && !named.isNull() && !named.isTextual()) {
      throw new InvalidInputException(
          "'revision' must be a string: a loaded revision's commit id (or its first 7 or more hex"
              + " digits) or its ref name");
    }
    String revision = named == null || named.isNull() ? null : named.asText();
    return runner.infer(Revisions.pick(entry(model), revision), request);
  }

  /**
   * Runs a plain {@code POST /inference} body of a {@code tensor} model, {@code {"model"?,
   * "inputs": nested numbers}}, read straight from its bytes and answered as a stream ({@link
   * TensorStream}, {@link TensorAnswer}); the same failures as {@link #infer}.
   *
   * @return the answer to serialise, or null when the body is not that plain form (or the model's
   *     task is not {@code tensor}): then {@link #infer} on its JSON tree
   */
  public @Nullable Object inferStreamed(String model, byte[] body, int length) {
    ModelEntry entry = entry(model);
    Prepared prepared = entry.prepared;
    if (prepared == null || !(prepared.task() instanceof TensorTask task)) {
      return null;
    }
    Tensor input = task.stream(body, length, model);
    // the canary answers its share of these too (a body naming a revision is not this plain form)
    return input == null ? null : runner.inferStreamed(Revisions.pick(entry, null), task, input);
  }

  /**
   * Runs a raw request body (an image posted as {@code image/png}) on {@code model} when its task
   * takes one; the same failures as {@link #infer}.
   */
  public ObjectNode inferRaw(String model, String contentType, byte[] body) {
    return runner.inferRaw(Revisions.pick(entry(model), null), contentType, body);
  }

  /** Whether {@code model}'s task takes a raw body of {@code contentType}; false before load. */
  public boolean takesRaw(String model, String contentType) {
    return facts.takesRaw(model, contentType);
  }

  /** The outputs of an Open Inference Protocol request, and the revision that answered. */
  public record V2Answer(String revision, List<V2Tensor> outputs) {}

  /**
   * Runs an Open Inference Protocol request on {@code model}; the same failures as {@link #infer}.
   *
   * @param version the revision the request names, or null for the one served
   */
  public V2Answer inferV2(String model, @Nullable String version, List<V2Tensor> inputs) {
    return runner.inferV2(picked(model, version), inputs);
  }

  /** {@link #inferV2} of a tensor model's plain JSON body via {@link V2Stream}; null: not taken. */
  public @Nullable Object inferV2Streamed(
      String model, @Nullable String version, String path, byte[] body, int length) {
    return runner.inferV2Streamed(entry(model), () -> picked(model, version), path, body, length);
  }

  /** The vectors of an embedding request, the tokens its texts held, and the revision. */
  public record Embeddings(String revision, List<float[]> vectors, int tokens) {}

  /**
   * Embeds {@code texts} on a {@code text-embedding} model (the OpenAI-compatible route); the same
   * failures as {@link #infer}, and {@link InvalidInputException} for a model of another task.
   */
  public Embeddings embed(String model, List<String> texts) {
    return runner.embed(Revisions.pick(entry(model), null), texts);
  }

  private ModelEntry entry(String model) {
    ModelEntry entry = entries.get(model);
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

  /** The entry that answers a request naming {@code version} (null: none) of {@code model}. */
  private ModelEntry picked(String model, @Nullable String version) {
    ModelEntry entry = entry(model);
    if (version != null && entry.prepared == null) {
      throw ModelLoader.notReady(states.status(entry.name()));
    }
    return Revisions.pick(entry, version);
  }

  /** True when {@code model} (which must be configured) is READY to answer. */
  public boolean isReady(String model) {
    ModelEntry entry = entry(model);
    return states.state(model) == ModelState.READY && entry.prepared != null;
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
  public V2Metadata v2Metadata(String model, @Nullable String version) {
    ModelEntry entry = picked(model, version);
    Prepared prepared = entry.prepared;
    if (prepared == null || states.state(model) != ModelState.READY) {
      throw ModelLoader.notReady(states.status(model));
    }
    return new V2Metadata(
        model,
        prepared.snapshot().id(),
        Engines.platform(entry.engine(prepared)),
        prepared.task().inputSpecs(),
        prepared.task().outputSpecs());
  }

  /** Facts about a model whose files are ready for {@code /models}, or empty before. */
  public Optional<LoadedInfo> info(String model) {
    return facts.info(model);
  }

  /**
   * Stops the models: waits for the lazy loads under way (they close what they load), then closes
   * every loaded model.
   */
  @Override
  public void close() {
    loader.close();
    for (ModelEntry primary : entries.values()) {
      for (ModelEntry entry : primary.revisions.all(primary)) {
        LoadedModel<?, ?> loaded = entry.loaded;
        if (loaded != null) {
          loaded.close();
        }
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
