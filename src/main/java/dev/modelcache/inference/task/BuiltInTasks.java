package dev.modelcache.inference.task;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.TaskFactory;
import dev.modelcache.inference.TensorTask;
import java.nio.file.Path;

/**
 * The one place where each configured {@code task:} becomes its {@link Task}: the tasks this
 * version knows, {@code tensor} included, built from the model's config and the files of its
 * installed snapshot ({@code tokenizer.json}, {@code config.json}, ...).
 *
 * <pre>{@code
 * ModelRegistry registry =
 *     new ModelRegistry(models, states, metrics, json, BuiltInTasks.factory(json), maxItems);
 * Task<?, ?> task = BuiltInTasks.create(modelConfig, snapshot.dir());
 * }</pre>
 *
 * The text tasks hold a native tokenizer: close the task ({@link AutoCloseable}) when the model is
 * unloaded.
 */
public final class BuiltInTasks {
  private BuiltInTasks() {}

  /** The factory of the tasks this version knows, reading JSON files with {@code json}. */
  public static TaskFactory factory(ObjectMapper json) {
    return (model, snapshotDir) -> create(model, snapshotDir, json);
  }

  /**
   * The task of {@code model}, reading what it needs from {@code snapshotDir}.
   *
   * @throws ModelLoadException when a file the task needs is missing or malformed
   */
  public static Task<?, ?> create(ModelConfig model, Path snapshotDir) throws ModelLoadException {
    return create(model, snapshotDir, RepoFiles.JSON);
  }

  private static Task<?, ?> create(ModelConfig model, Path snapshotDir, ObjectMapper json)
      throws ModelLoadException {
    RepoFiles repo = new RepoFiles(snapshotDir, model.name());
    return switch (model.task()) {
      case TENSOR -> TensorTask.load(model, snapshotDir, json);
      case TEXT_EMBEDDING -> TextEmbeddingTask.load(model, repo);
      case TEXT_CLASSIFICATION -> TextClassificationTask.load(model, repo);
      case IMAGE_CLASSIFICATION -> ImageClassificationTask.load(model, repo);
    };
  }
}
