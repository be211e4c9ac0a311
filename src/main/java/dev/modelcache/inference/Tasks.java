package dev.modelcache.inference;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.ModelConfig;
import java.nio.file.Path;

/**
 * The one place where each configured {@code task:} becomes its {@link Task}.
 *
 * <pre>{@code
 * ModelRegistry registry = new ModelRegistry(models, states, metrics, json, Tasks.factory(json));
 * }</pre>
 */
public final class Tasks {
  private Tasks() {}

  /** The factory of the tasks this version knows. */
  public static TaskFactory factory(ObjectMapper json) {
    return (model, snapshotDir) -> create(model, snapshotDir, json);
  }

  static Task<?, ?> create(ModelConfig model, Path snapshotDir, ObjectMapper json)
      throws ModelLoadException {
    return switch (model.task()) {
      case TENSOR ->
          new TensorTask(
              model.name(),
              ModelMetadata.read(snapshotDir, json, model.name()).labels(),
              TensorSignature.read(snapshotDir, json, model.name()));
      case TEXT_EMBEDDING, TEXT_CLASSIFICATION, IMAGE_CLASSIFICATION ->
          dev.modelcache.inference.task.TaskFactory.create(model, snapshotDir);
    };
  }
}
