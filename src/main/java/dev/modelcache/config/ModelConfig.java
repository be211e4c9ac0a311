package dev.modelcache.config;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One model of the {@code models:} list.
 *
 * @param sha256 pins by file path (relative to the model root); a pin always wins over any upstream
 *     digest
 * @param threads the intra-op threads of one forward pass ({@code server.engine_threads}, {@code
 *     auto} resolved by the loader): at least 1
 * @param timeoutMs how long a request may wait for its answer, queue included, before a 504
 * @param lazy load into the engine on the first request rather than at start ({@code load: lazy})
 * @param engine {@code auto} (by the model file found), {@code PyTorch} or {@code OnnxRuntime};
 *     never null
 * @param modelFile the model file's path in the snapshot, or null to find it by engine and name
 * @param taskOptions never null: {@link TaskOptions#NONE} when none is set
 * @param requirePins true: every file needs a digest that a pin or the source vouches for; none is
 *     trusted on first use
 * @param s3 the effective S3 settings of an {@code s3://} model ({@code sources.s3} overridden by
 *     the model's own {@code s3:}), or of a {@code gs://} model (the XML API's, from {@code
 *     sources.gcs}); else null
 * @param versionIds S3 object version ids by file path: those objects are fetched at exactly that
 *     version
 * @param versions revisions kept loaded and the canary ({@code versions:}, {@code canary:}); never
 *     null: {@link ModelVersions#ONE} when neither is set
 * @param watch how often to poll the model's branch or tag for a move ({@code watch:}), or null
 */
public record ModelConfig(
    String name,
    SourceRef source,
    List<String> include,
    List<String> exclude,
    Map<String, String> sha256,
    String engine,
    TaskKind task,
    String device,
    int workers,
    int threads,
    int batchMaxSize,
    int batchMaxDelayMs,
    int queue,
    int timeoutMs,
    boolean lazy,
    boolean required,
    @Nullable String modelFile,
    TaskOptions taskOptions,
    boolean requirePins,
    Config.@Nullable S3Config s3,
    Map<String, String> versionIds,
    ModelVersions versions,
    @Nullable WatchConfig watch) {

  public ModelConfig {
    // The defaults are filled in once, by the loader: nothing downstream checks for null.
    Objects.requireNonNull(engine, "engine is null: the loader fills in auto");
    Objects.requireNonNull(
        taskOptions, "taskOptions is null: the loader fills in TaskOptions.NONE");
    include = List.copyOf(include);
    exclude = List.copyOf(exclude);
    sha256 = Map.copyOf(sha256);
    versionIds = Map.copyOf(versionIds);
  }

  /** This model with another source (a locked revision) and other pins. */
  public ModelConfig with(SourceRef newSource, Map<String, String> newPins) {
    return copy(newSource, newPins, versions, threads);
  }

  /** This model with other {@code versions:} and {@code canary:}. */
  public ModelConfig with(ModelVersions newVersions) {
    return copy(source, sha256, newVersions, threads);
  }

  /** This model with {@code newThreads} intra-op threads a forward pass. */
  public ModelConfig withThreads(int newThreads) {
    return copy(source, sha256, versions, newThreads);
  }

  private ModelConfig copy(
      SourceRef newSource, Map<String, String> newPins, ModelVersions newVersions, int newThreads) {
    return new ModelConfig(
        name,
        newSource,
        include,
        exclude,
        newPins,
        engine,
        task,
        device,
        workers,
        newThreads,
        batchMaxSize,
        batchMaxDelayMs,
        queue,
        timeoutMs,
        lazy,
        required,
        modelFile,
        taskOptions,
        requirePins,
        s3,
        versionIds,
        newVersions,
        watch);
  }

  /** What a model does with a request. */
  public enum TaskKind {
    TENSOR("tensor"),
    TEXT_EMBEDDING("text-embedding"),
    TEXT_CLASSIFICATION("text-classification"),
    IMAGE_CLASSIFICATION("image-classification");

    private final String key;

    TaskKind(String key) {
      this.key = key;
    }

    @Override
    public String toString() {
      return key;
    }
  }
}
