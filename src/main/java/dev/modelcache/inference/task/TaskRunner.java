package dev.modelcache.inference.task;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.Task;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A stop-gap runner of one non-tensor task on CPU, one predictor behind a lock, until the serving
 * layer (worker pools, queues, dynamic batching) takes tasks over.
 *
 * @param <I> the task's item
 * @param <O> the task's output per item
 */
public final class TaskRunner<I, O> implements AutoCloseable {
  private final Task<I, O> task;
  private final Engines.Choice choice;
  private final ZooModel<List<I>, List<O>> model;
  private final Predictor<List<I>, List<O>> predictor;

  private TaskRunner(
      Task<I, O> task,
      Engines.Choice choice,
      ZooModel<List<I>, List<O>> model,
      Predictor<List<I>, List<O>> predictor) {
    this.task = task;
    this.choice = choice;
    this.model = model;
    this.predictor = predictor;
  }

  /** Builds the task, loads the model in its engine, and runs the warm-up item. */
  public static TaskRunner<?, ?> load(ModelConfig config, Path snapshotDir)
      throws ModelLoadException {
    return load(TaskFactory.create(config, snapshotDir), config, snapshotDir);
  }

  @SuppressWarnings("unchecked")
  private static <I, O> TaskRunner<I, O> load(Task<I, O> task, ModelConfig config, Path dir)
      throws ModelLoadException {
    Engines.Choice choice = Engines.resolve(config, dir);
    Class<List<I>> in = (Class<List<I>>) (Class<?>) List.class;
    Class<List<O>> out = (Class<List<O>>) (Class<?>) List.class;
    ZooModel<List<I>, List<O>> model;
    try {
      model =
          Criteria.builder()
              .setTypes(in, out)
              .optEngine(choice.engine())
              .optDevice(Device.cpu())
              .optModelPath(choice.path())
              .optTranslator(task.translator())
              .build()
              .loadModel();
    } catch (ModelNotFoundException | MalformedModelException | IOException | RuntimeException e) {
      closeQuietly(task);
      throw new ModelLoadException(
          config.name()
              + " - "
              + choice.engine()
              + " could not load "
              + choice.modelFile()
              + ": "
              + e.getMessage(),
          e);
    }
    TaskRunner<I, O> runner = new TaskRunner<>(task, choice, model, model.newPredictor());
    try {
      runner.predictor.predict(List.of(task.warmupItem()));
    } catch (TranslateException | RuntimeException e) {
      runner.close();
      throw new ModelLoadException(
          config.name() + " - warm-up inference failed: " + e.getMessage(), e);
    }
    return runner;
  }

  public Engines.Choice choice() {
    return choice;
  }

  public Task<I, O> task() {
    return task;
  }

  /** {@code POST /inference}: the request's {@code inputs} to the response's {@code outputs}. */
  public JsonNode infer(JsonNode inputs) {
    List<I> items = task.parse(inputs);
    List<O> outputs;
    synchronized (predictor) {
      try {
        outputs = predictor.predict(items);
      } catch (TranslateException e) {
        throw new InvalidInputException("inference failed on these inputs: " + e.getMessage(), e);
      }
    }
    return task.render(outputs);
  }

  @Override
  public void close() {
    predictor.close();
    model.close();
    closeQuietly(task);
  }

  private static void closeQuietly(Task<?, ?> task) {
    if (task instanceof AutoCloseable closeable) {
      try {
        closeable.close();
      } catch (Exception e) {
        // a tokenizer's native handle; nothing to report
      }
    }
  }
}
