package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.engine.Engine;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.task.TaskRunner;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.Metrics.Outcome;
import dev.modelcache.metrics.ModelState;
import dev.modelcache.metrics.ModelStates;
import dev.modelcache.metrics.ModelStatus;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models loaded in their engines, and the one entry point for inference on them. Requests and
 * responses are JSON trees, because each task defines its own request format.
 *
 * <pre>{@code
 * registry.load(modelConfig, snapshot);
 * ObjectNode answer = registry.infer("iris", inputsNode);
 * }</pre>
 */
public final class ModelRegistry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);
  private static final List<String> MODEL_FILE_SUFFIXES = List.of(".pt", ".pth", ".torchscript");
  private static final Duration WORKER_WAIT = Duration.ofSeconds(30);

  private final Map<String, ModelConfig> configs = new LinkedHashMap<>();
  private final Map<String, LoadedModel> loaded = new ConcurrentHashMap<>();
  // Stop-gap for the non-tensor tasks (one CPU predictor each) until the serving layer runs them.
  private final Map<String, TaskModel> taskModels = new ConcurrentHashMap<>();

  private record TaskModel(TaskRunner<?, ?> runner, String revision) {}

  private final ModelStates states;
  private final Metrics metrics;
  private final ObjectMapper json;

  public ModelRegistry(
      List<ModelConfig> models, ModelStates states, Metrics metrics, ObjectMapper json) {
    models.forEach(m -> configs.put(m.name(), m));
    this.states = states;
    this.metrics = metrics;
    this.json = json;
  }

  /**
   * Loads the snapshot of {@code model} into its engine, runs a warm-up inference, and marks it
   * READY.
   */
  public void load(ModelConfig model, InstalledSnapshot snapshot) throws ModelLoadException {
    states.loading(model.name());
    long start = System.nanoTime();
    if (model.task() != ModelConfig.Task.TENSOR) {
      TaskModel taskModel = new TaskModel(TaskRunner.load(model, snapshot.dir()), snapshot.id());
      TaskModel previous = taskModels.put(model.name(), taskModel);
      if (previous != null) {
        previous.runner().close();
      }
      metrics.loaded(model.name(), Duration.ofNanos(System.nanoTime() - start));
      states.ready(model.name());
      log.info(
          "{} - READY: {} with {} on cpu ({})",
          model.name(),
          taskModel.runner().choice().modelFile(),
          taskModel.runner().choice().engine(),
          model.task());
      return;
    }
    String file = modelFile(model, snapshot);
    ModelMetadata metadata = ModelMetadata.read(snapshot.dir(), json, model.name());
    Device device = device(model);
    Criteria<List<Tensor>, List<Tensor>> criteria =
        Criteria.builder()
            .setTypes(listOfTensors(), listOfTensors())
            .optEngine("PyTorch")
            .optDevice(device)
            .optModelPath(snapshot.dir().resolve(file))
            .optTranslator(new TensorTranslator())
            .build();
    ZooModel<List<Tensor>, List<Tensor>> zoo;
    try {
      zoo = criteria.loadModel();
    } catch (ModelNotFoundException | MalformedModelException | IOException | RuntimeException e) {
      throw new ModelLoadException(
          model.name()
              + " - PyTorch could not load "
              + file
              + " on "
              + device
              + ": "
              + firstLine(e),
          e);
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    LoadedModel loadedModel =
        new LoadedModel(
            model.name(),
            zoo,
            model.workers(),
            metadata,
            snapshot,
            file,
            took,
            metrics.queueDepth(model.name()));
    try {
      warmUp(loadedModel);
    } catch (ModelLoadException e) {
      loadedModel.close();
      throw e;
    }
    LoadedModel previous = loaded.put(model.name(), loadedModel);
    if (previous != null) {
      previous.close();
    }
    metrics.loaded(model.name(), took);
    states.ready(model.name());
    log.info(
        "{} - READY: {} on {} in {} ms ({} workers{})",
        model.name(),
        file,
        device,
        took.toMillis(),
        model.workers(),
        metadata.labels().isEmpty() ? "" : ", " + metadata.labels().size() + " labels");
  }

  /**
   * Runs {@code request} ({@code {"inputs": ...}}) on {@code model}.
   *
   * @throws dev.modelcache.inference.ModelNotFoundException when no such model is configured
   * @throws ModelNotReadyException when it is not READY
   * @throws InvalidInputException when the inputs do not fit it
   */
  public ObjectNode infer(String model, JsonNode request) {
    ModelConfig config = configs.get(model);
    if (config == null) {
      throw new dev.modelcache.inference.ModelNotFoundException(
          "model '"
              + truncate(model)
              + "' is not configured"
              + " (configured: "
              + String.join(", ", configs.keySet())
              + ")");
    }
    long start = System.nanoTime();
    Outcome outcome = Outcome.ERROR;
    try {
      ObjectNode answer = inferLoaded(config, request);
      outcome = Outcome.SUCCESS;
      return answer;
    } catch (InvalidInputException e) {
      outcome = Outcome.BAD_REQUEST;
      throw e;
    } catch (ModelNotReadyException | ModelBusyException e) {
      outcome = Outcome.NOT_READY;
      throw e;
    } finally {
      metrics.inference(model, outcome, System.nanoTime() - start);
    }
  }

  private ObjectNode inferLoaded(ModelConfig config, JsonNode request) {
    TaskModel taskModel = taskModels.get(config.name());
    if (taskModel != null && states.status(config.name()).state() == ModelState.READY) {
      ObjectNode answer = json.createObjectNode();
      answer.put("model", config.name());
      answer.put("revision", taskModel.revision());
      answer.set("outputs", taskModel.runner().infer(request.get("inputs")));
      return answer;
    }
    LoadedModel model = loaded.get(config.name());
    if (model == null || states.status(config.name()).state() != ModelState.READY) {
      ModelStatus status = states.status(config.name());
      throw new ModelNotReadyException(
          config.name()
              + " is "
              + status.state()
              + (status.reason() == null
                  ? "; retry when /health/ready answers 200"
                  : ": " + status.reason()));
    }
    JsonNode inputs = request.get("inputs");
    if (inputs == null || inputs.isNull()) {
      throw new InvalidInputException(
          "request has no 'inputs': send {\"inputs\": [[...numbers...]]}");
    }
    Tensor tensor = TensorCodec.parseFloat32(inputs, "inputs");
    boolean unbatched = fitShape(model, tensor);
    if (unbatched) {
      tensor = Tensor.ofFloats(tensor.dtype(), prepend(1, tensor.shape()), tensor.floats());
    }
    List<Tensor> outputs;
    try {
      outputs = model.predict(List.of(tensor), WORKER_WAIT);
      metrics.batch(config.name(), 1); // one request per forward pass until dynamic batching
    } catch (TranslateException e) {
      throw new InvalidInputException(
          config.name()
              + " could not run on inputs of shape "
              + Arrays.toString(tensor.shape())
              + ": "
              + firstLine(e),
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelBusyException(config.name() + " - interrupted while waiting for a worker", e);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(config.name() + " - inference failed: " + firstLine(e), e);
    }
    return answer(model, outputs, unbatched);
  }

  /**
   * Checks inputs against the model's declared input shape; true when the batch dimension was left
   * out.
   */
  private static boolean fitShape(LoadedModel model, Tensor tensor) {
    long[] declared = model.metadata().inputShape();
    if (declared == null) {
      return false;
    }
    long[] shape = tensor.shape();
    if (Arrays.equals(shape, declared)) {
      return true;
    }
    if (shape.length == declared.length + 1
        && Arrays.equals(Arrays.copyOfRange(shape, 1, shape.length), declared)) {
      return false;
    }
    throw new InvalidInputException(
        "inputs have shape "
            + Arrays.toString(shape)
            + " but model "
            + model.name()
            + " takes "
            + describeShape(declared)
            + " (one input) or "
            + describeShape(prepend(-1, declared))
            + " (a batch)");
  }

  private ObjectNode answer(LoadedModel model, List<Tensor> outputs, boolean unbatched) {
    ObjectNode answer = json.createObjectNode();
    answer.put("model", model.name());
    answer.put("revision", model.snapshot().id());
    Tensor first = outputs.get(0);
    if (unbatched && first.shape().length > 0 && first.shape()[0] == 1) {
      first = withoutBatch(first);
    }
    answer.set("outputs", TensorCodec.toJson(first));
    ArrayNode shape = answer.putArray("shape");
    Arrays.stream(first.shape()).forEach(shape::add);
    answer.put("dtype", first.dtype());
    List<String> labels = model.metadata().labels();
    long[] s = first.shape();
    long classes = s.length == 0 ? 0 : s[s.length - 1];
    if (!labels.isEmpty() && first.floats() != null && s.length <= 2 && classes == labels.size()) {
      ArrayNode predictions = answer.putArray("predictions");
      int rows = first.size() / labels.size();
      for (int row = 0; row < rows; row++) {
        int best = 0;
        for (int c = 1; c < labels.size(); c++) {
          if (first.floats()[row * labels.size() + c]
              > first.floats()[row * labels.size() + best]) {
            best = c;
          }
        }
        ObjectNode prediction = predictions.addObject();
        prediction.put("label", labels.get(best));
        prediction.put("index", best);
        prediction.put("score", first.floats()[row * labels.size() + best]);
      }
    }
    return answer;
  }

  /** Facts about a loaded model for {@code /models}, or empty when it is not loaded. */
  public Optional<LoadedInfo> info(String model) {
    LoadedModel m = loaded.get(model);
    return m == null
        ? Optional.empty()
        : Optional.of(
            new LoadedInfo(
                m.snapshot(),
                m.modelFile(),
                m.device().toString(),
                m.loadTime(),
                m.metadata().labels()));
  }

  /** What {@code /models} reports about a loaded model. */
  public record LoadedInfo(
      InstalledSnapshot snapshot,
      String modelFile,
      String device,
      Duration loadTime,
      List<String> labels) {}

  @Override
  public void close() {
    taskModels.values().forEach(t -> t.runner().close());
    taskModels.clear();
    loaded.values().forEach(LoadedModel::close);
    loaded.clear();
  }

  private void warmUp(LoadedModel model) throws ModelLoadException {
    long[] declared = model.metadata().inputShape();
    if (declared == null) {
      return;
    }
    long[] shape = prepend(1, declared);
    double[] zeros =
        new double[Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact))];
    try {
      model.predict(List.of(Tensor.ofFloats("float32", shape, zeros)), WORKER_WAIT);
    } catch (Exception e) {
      throw new ModelLoadException(
          model.name()
              + " - warm-up inference on zeros of shape "
              + Arrays.toString(shape)
              + " failed: "
              + firstLine(e),
          e);
    }
  }

  private static String modelFile(ModelConfig model, InstalledSnapshot snapshot)
      throws ModelLoadException {
    List<String> candidates =
        snapshot.files().stream()
            .map(InstalledFile::path)
            .filter(
                p ->
                    MODEL_FILE_SUFFIXES.stream()
                        .anyMatch(s -> p.toLowerCase(Locale.ROOT).endsWith(s)))
            .toList();
    if (candidates.contains("model.pt")) {
      return "model.pt";
    }
    if (candidates.size() == 1) {
      return candidates.get(0);
    }
    throw new ModelLoadException(
        model.name()
            + " - "
            + (candidates.isEmpty()
                ? "no TorchScript file (*.pt, *.pth, *.torchscript)"
                : "several TorchScript files " + candidates + " and none named model.pt")
            + " in snapshot "
            + snapshot.id()
            + " (files: "
            + String.join(", ", snapshot.files().stream().map(InstalledFile::path).toList())
            + ")");
  }

  private static Device device(ModelConfig model) throws ModelLoadException {
    String wanted = model.device();
    int gpus = Engine.getEngine("PyTorch").getGpuCount();
    if (wanted.equals("cpu") || (wanted.equals("auto") && gpus == 0)) {
      return Device.cpu();
    }
    if (wanted.equals("auto")) {
      return Device.gpu(0);
    }
    int index = wanted.equals("gpu") ? 0 : Integer.parseInt(wanted.substring("gpu:".length()));
    if (index >= gpus) {
      throw new ModelLoadException(
          model.name()
              + " - device "
              + wanted
              + " asked for, but PyTorch sees "
              + gpus
              + " GPU(s); use device: auto or cpu, or run with the CUDA natives (see docs/configuration.md)");
    }
    return Device.gpu(index);
  }

  @SuppressWarnings("unchecked")
  private static Class<List<Tensor>> listOfTensors() {
    return (Class<List<Tensor>>) (Class<?>) List.class;
  }

  private static Tensor withoutBatch(Tensor t) {
    long[] shape = Arrays.copyOfRange(t.shape(), 1, t.shape().length);
    return new Tensor(t.dtype(), shape, t.floats(), t.ints(), t.bools());
  }

  private static long[] prepend(long first, long[] rest) {
    long[] shape = new long[rest.length + 1];
    shape[0] = first;
    System.arraycopy(rest, 0, shape, 1, rest.length);
    return shape;
  }

  private static String describeShape(long[] shape) {
    return Arrays.toString(shape).replace("-1", "N");
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

  private static String truncate(String name) {
    return name.length() <= 64 ? name : name.substring(0, 64) + "...";
  }
}
