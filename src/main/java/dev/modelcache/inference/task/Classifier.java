package dev.modelcache.inference.task;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.TaskOptions;
import dev.modelcache.config.TaskOptions.Scores;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.ModelMetadata;
import dev.modelcache.inference.V2Tensor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The classification tasks' shared end: a model's output row to scores (softmax, sigmoid or as is),
 * the top k labels, and their JSON and Open Inference Protocol v2 forms.
 */
final class Classifier {
  /** Labels per item when {@code task_options.top_k} is not set. */
  static final int DEFAULT_TOP_K = 5;

  private final List<String> labels;
  private final Scores scores;
  private final int topK;

  /**
   * @param labels by class index ({@code id2label}); empty: {@code LABEL_0}, {@code LABEL_1}, ...
   * @param topK labels per item, 0 for all
   */
  Classifier(List<String> labels, Scores scores, int topK) {
    this.labels = List.copyOf(labels);
    this.scores = scores;
    this.topK = topK;
  }

  /**
   * The classifier of {@code model}: labels from {@code config.json}'s {@code id2label}; scores by
   * {@code task_options.scores}, else sigmoid for {@code problem_type: multi_label_classification},
   * else softmax.
   */
  static Classifier of(ModelConfig model, RepoFiles repo) throws ModelLoadException {
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

  List<String> labels() {
    return labels;
  }

  Scores scores() {
    return scores;
  }

  int topK() {
    return topK;
  }

  /** The best labels of each row of a {@code [N, classes]} output. */
  List<List<Prediction>> rows(NDArray output) {
    long[] shape = output.getShape().getShape();
    if (shape.length != 2) {
      throw new IllegalStateException(
          "the model's output has shape "
              + output.getShape()
              + "; a classifier must output [N, classes]");
    }
    int classes = (int) shape[1];
    float[] data = output.toType(DataType.FLOAT32, false).toFloatArray();
    List<List<Prediction>> rows = new ArrayList<>((int) shape[0]);
    for (int r = 0; r < shape[0]; r++) {
      float[] row = new float[classes];
      System.arraycopy(data, r * classes, row, 0, classes);
      rows.add(top(row));
    }
    return rows;
  }

  /** The best labels of one output row, best first. */
  List<Prediction> top(float[] row) {
    if (!labels.isEmpty() && row.length != labels.size()) {
      throw new IllegalStateException(
          "the model outputs "
              + row.length
              + " scores per item, but config.json id2label names "
              + labels.size()
              + " labels; fix id2label or the model");
    }
    double[] values = new double[row.length];
    switch (scores) {
      case SOFTMAX -> {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : row) {
          max = Math.max(max, v);
        }
        double sum = 0;
        for (int i = 0; i < row.length; i++) {
          values[i] = Math.exp(row[i] - max);
          sum += values[i];
        }
        for (int i = 0; i < row.length; i++) {
          values[i] /= sum;
        }
      }
      case SIGMOID -> {
        for (int i = 0; i < row.length; i++) {
          values[i] = 1 / (1 + Math.exp(-row[i]));
        }
      }
      case NONE -> {
        for (int i = 0; i < row.length; i++) {
          values[i] = row[i];
        }
      }
    }
    List<Prediction> all = new ArrayList<>(row.length);
    for (int i = 0; i < row.length; i++) {
      all.add(new Prediction(label(i), i, (float) values[i]));
    }
    // Stable: equal scores keep class order.
    all.sort(Comparator.comparingDouble((Prediction p) -> p.score()).reversed());
    return List.copyOf(all.subList(0, k(row.length)));
  }

  private int k(int classes) {
    return topK == 0 ? classes : Math.min(topK, classes);
  }

  private String label(int index) {
    return labels.isEmpty() ? "LABEL_" + index : labels.get(index);
  }

  /** {@code [[{"label", "index", "score"}, ...], ...]}: per item its labels, best first. */
  static JsonNode render(List<List<Prediction>> outputs) {
    ArrayNode items = Inputs.JSON.arrayNode(outputs.size());
    for (List<Prediction> item : outputs) {
      ArrayNode predictions = items.addArray();
      for (Prediction p : item) {
        ObjectNode node = predictions.addObject();
        node.put("label", p.label());
        node.put("index", p.index());
        node.put("score", p.score());
      }
    }
    return items;
  }

  /** {@code label} (BYTES), {@code index} (INT64), {@code score} (FP32), each {@code [N, k]}. */
  static List<V2Tensor> renderV2(List<List<Prediction>> outputs) {
    int k = outputs.isEmpty() ? 0 : outputs.get(0).size();
    long[] shape = {outputs.size(), k};
    ArrayNode labels = Inputs.JSON.arrayNode();
    ArrayNode indices = Inputs.JSON.arrayNode();
    float[] scores = new float[outputs.size() * k];
    int n = 0;
    for (List<Prediction> item : outputs) {
      for (Prediction p : item) {
        labels.add(p.label());
        indices.add(p.index());
        scores[n++] = p.score();
      }
    }
    return List.of(
        new V2Tensor("label", shape, "BYTES", labels),
        new V2Tensor("index", shape, "INT64", indices),
        Inputs.fp32("score", shape, scores));
  }

  List<V2Tensor.Spec> outputSpecs() {
    long k = labels.isEmpty() || topK == 0 ? -1 : k(labels.size());
    long[] shape = {-1, k};
    return List.of(
        new V2Tensor.Spec("label", "BYTES", shape),
        new V2Tensor.Spec("index", "INT64", shape),
        new V2Tensor.Spec("score", "FP32", shape));
  }
}
