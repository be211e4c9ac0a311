package dev.modelcache.config;

import dev.modelcache.config.ModelConfig.TaskKind;
import dev.modelcache.config.TaskOptions.Pooling;
import dev.modelcache.config.TaskOptions.Scores;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Reads one model's {@code task_options:}; each option is checked against the task it applies to,
 * so that an option the task would ignore fails instead. None set gives {@link TaskOptions#NONE}.
 */
final class TaskOptionsReader {
  /** The {@code task_options} each task takes. */
  private static final Map<TaskKind, List<String>> TASK_OPTIONS =
      Map.of(
          TaskKind.TENSOR,
          List.of(),
          TaskKind.TEXT_EMBEDDING,
          List.of("max_length", "pooling", "normalize"),
          TaskKind.TEXT_CLASSIFICATION,
          List.of("max_length", "top_k", "scores"),
          TaskKind.IMAGE_CLASSIFICATION,
          List.of("image_size", "resize", "mean", "std", "top_k", "scores"));

  private TaskOptionsReader() {}

  static TaskOptions read(ConfigNode node, TaskKind task) {
    Integer maxLength = node.has("max_length") ? node.integer("max_length", 0, 1, 65_536) : null;
    Pooling pooling = node.choice("pooling", Pooling.class);
    Boolean normalize = node.has("normalize") ? node.bool("normalize", false) : null;
    Integer topK = node.has("top_k") ? node.integer("top_k", 0, 0, 100_000) : null;
    Scores scores = node.choice("scores", Scores.class);
    List<Double> size = node.numbers("image_size", 1, 4096);
    Integer resize = node.has("resize") ? node.integer("resize", 0, 1, 8192) : null;
    List<Double> mean = node.numbers("mean", -1000, 1000);
    List<Double> std = node.numbers("std", 1e-6, 1000);
    node.finish();
    Map<String, Boolean> set = new LinkedHashMap<>();
    set.put("max_length", maxLength != null);
    set.put("pooling", pooling != null);
    set.put("normalize", normalize != null);
    set.put("top_k", topK != null);
    set.put("scores", scores != null);
    set.put("image_size", size != null);
    set.put("resize", resize != null);
    set.put("mean", mean != null);
    set.put("std", std != null);
    checkApplies(node, task, set);
    List<Integer> imageSize = imageSize(node, size);
    checkChannels(node, "mean", mean);
    checkChannels(node, "std", std);
    return new TaskOptions(
        maxLength,
        pooling,
        normalize,
        topK,
        scores,
        imageSize,
        resize,
        threeChannels(mean),
        threeChannels(std));
  }

  /** Fails on the first option of {@code set} (name: whether given) that {@code task} lacks. */
  private static void checkApplies(ConfigNode node, TaskKind task, Map<String, Boolean> set) {
    List<String> allowed =
        Objects.requireNonNull(TASK_OPTIONS.get(task), "TASK_OPTIONS lists every task");
    for (Map.Entry<String, Boolean> option : set.entrySet()) {
      if (option.getValue() && !allowed.contains(option.getKey())) {
        throw node.error(
            node.qualify(option.getKey()),
            "does not apply to task "
                + task
                + (allowed.isEmpty()
                    ? ", which takes no task_options"
                    : " (its options: " + String.join(", ", allowed) + ")"));
      }
    }
  }

  /** {@code image_size} as {@code [height, width]}; one number is both. */
  private static @Nullable List<Integer> imageSize(ConfigNode node, @Nullable List<Double> size) {
    if (size == null) {
      return null;
    }
    if (size.size() > 2 || size.stream().anyMatch(v -> v != Math.rint(v))) {
      throw node.error(
          node.qualify("image_size"), "must be one whole number or [height, width], not " + size);
    }
    int height = size.get(0).intValue();
    return List.of(height, size.size() == 2 ? size.get(1).intValue() : height);
  }

  private static void checkChannels(ConfigNode node, String key, @Nullable List<Double> values) {
    if (values != null && values.size() != 1 && values.size() != 3) {
      throw node.error(
          node.qualify(key),
          "must be one number or three (red, green, blue), not " + values.size());
    }
  }

  private static @Nullable List<Double> threeChannels(@Nullable List<Double> values) {
    return values == null || values.size() == 3
        ? values
        : List.of(values.get(0), values.get(0), values.get(0));
  }
}
