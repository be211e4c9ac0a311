package dev.modelcache.inference.task;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.TaskOptions;
import dev.modelcache.config.TaskOptions.Scores;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.ModelMetadata;
import dev.modelcache.inference.Task;
import java.nio.file.Path;

/**
 * Builds the {@link Task} of a model from its config and the files of its installed snapshot.
 *
 * <pre>{@code
 * Task<?, ?> task = TaskFactory.create(modelConfig, snapshot.dir());
 * Criteria.builder().optTranslator(task.translator())...
 * }</pre>
 *
 * The text tasks hold a native tokenizer: close the task ({@link AutoCloseable}) when the model is
 * unloaded.
 */
public final class TaskFactory {
  /** Labels per item when {@code task_options.top_k} is not set. */
  static final int DEFAULT_TOP_K = 5;

  private TaskFactory() {}

  /**
   * The task of {@code model}, reading what it needs from {@code snapshotDir} ({@code
   * tokenizer.json}, {@code config.json}, ...).
   *
   * @throws ModelLoadException when a file the task needs is missing or malformed
   * @throws IllegalArgumentException for {@code tensor}, which the model registry builds itself
   */
  public static Task<?, ?> create(ModelConfig model, Path snapshotDir) throws ModelLoadException {
    RepoFiles repo = new RepoFiles(snapshotDir, model.name());
    return switch (model.task()) {
      case TENSOR ->
          throw new IllegalArgumentException(
              model.name() + " - task tensor is built by the model registry, not TaskFactory");
      case TEXT_EMBEDDING -> TextEmbeddingTask.load(model, repo);
      case TEXT_CLASSIFICATION -> TextClassificationTask.load(model, repo);
      case IMAGE_CLASSIFICATION -> ImageClassificationTask.load(model, repo);
    };
  }

  /**
   * Labels from {@code config.json}'s {@code id2label}; scores by {@code task_options.scores}, else
   * sigmoid for {@code problem_type: multi_label_classification}, else softmax.
   */
  static Classifier classifier(ModelConfig model, RepoFiles repo) throws ModelLoadException {
    TaskOptions options = model.taskOptions();
    ModelMetadata metadata = ModelMetadata.read(repo.dir(), RepoFiles.JSON, model.name());
    Scores scores = options.scores();
    if (scores == null) {
      JsonNode problem = repo.json("config.json").path("problem_type");
      scores =
          "multi_label_classification".equals(problem.asText()) ? Scores.SIGMOID : Scores.SOFTMAX;
    }
    int topK = options.topK() != null ? options.topK() : DEFAULT_TOP_K;
    return new Classifier(metadata.labels(), scores, topK);
  }
}
