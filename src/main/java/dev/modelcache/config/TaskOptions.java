package dev.modelcache.config;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The {@code task_options:} of one model: how its task turns requests into tensors and outputs into
 * answers. A null field was not set: the task then takes the value from the repo's own files
 * ({@code tokenizer.json}, {@code 1_Pooling/config.json}, {@code preprocessor_config.json}, ...) or
 * its default.
 *
 * @param maxLength text tasks: tokens per text at most; longer texts are truncated
 * @param pooling text-embedding: how token vectors become one vector
 * @param normalize text-embedding: scale each vector to length 1
 * @param topK classification tasks: how many labels to return per item (0: all)
 * @param scores classification tasks: what turns logits into scores
 * @param imageSize image-classification: {@code [height, width]} the model takes
 * @param resize image-classification: the shorter side is resized to this before the centre crop to
 *     {@code imageSize}; null resizes straight to {@code imageSize}
 * @param mean image-classification: per-channel (RGB) mean subtracted after scaling to 0..1
 * @param std image-classification: per-channel (RGB) standard deviation divided by
 */
public record TaskOptions(
    @Nullable Integer maxLength,
    @Nullable Pooling pooling,
    @Nullable Boolean normalize,
    @Nullable Integer topK,
    @Nullable Scores scores,
    @Nullable List<Integer> imageSize,
    @Nullable Integer resize,
    @Nullable List<Double> mean,
    @Nullable List<Double> std) {

  /** No option set. */
  public static final TaskOptions NONE =
      new TaskOptions(null, null, null, null, null, null, null, null, null);

  public TaskOptions {
    imageSize = imageSize == null ? null : List.copyOf(imageSize);
    mean = mean == null ? null : List.copyOf(mean);
    std = std == null ? null : List.copyOf(std);
  }

  /** How a text-embedding model's token vectors become one vector per text. */
  public enum Pooling {
    /** The average of the token vectors, padding left out (sentence-transformers' default). */
    MEAN("mean"),
    /** The first token's vector ({@code [CLS]}). */
    CLS("cls"),
    /** The element-wise maximum over the tokens, padding left out. */
    MAX("max");

    private final String key;

    Pooling(String key) {
      this.key = key;
    }

    @Override
    public String toString() {
      return key;
    }
  }

  /** What turns a classifier's outputs into scores. */
  public enum Scores {
    /** One label per item: scores sum to 1. */
    SOFTMAX("softmax"),
    /** Several labels may hold: each score is 0..1 on its own. */
    SIGMOID("sigmoid"),
    /** The outputs as they are (a model that ends in its own softmax). */
    NONE("none");

    private final String key;

    Scores(String key) {
      this.key = key;
    }

    @Override
    public String toString() {
      return key;
    }
  }
}
