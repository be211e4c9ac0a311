package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * What the model's own {@code config.json} says, when it has one: class labels ({@code id2label},
 * as HuggingFace writes them) and the shape of one input without the batch dimension ({@code
 * input_shape}).
 */
public record ModelMetadata(List<String> labels, long @Nullable [] inputShape) {
  public static final ModelMetadata NONE = new ModelMetadata(List.of(), null);

  public static ModelMetadata read(Path snapshotDir, ObjectMapper json, String model)
      throws ModelLoadException {
    JsonNode root = readConfig(snapshotDir, json, model);
    if (root == null) {
      return NONE;
    }
    List<String> labels = new ArrayList<>();
    JsonNode id2label = root.path("id2label");
    if (id2label.isObject()) {
      Map<Integer, String> byId = new TreeMap<>();
      for (Map.Entry<String, JsonNode> entry : id2label.properties()) {
        try {
          byId.put(Integer.parseInt(entry.getKey()), entry.getValue().asText());
        } catch (NumberFormatException e) {
          throw new ModelLoadException(
              model + " - config.json id2label key '" + entry.getKey() + "' is not a number");
        }
      }
      int expected = 0;
      for (Map.Entry<Integer, String> entry : byId.entrySet()) {
        if (entry.getKey() != expected++) {
          throw new ModelLoadException(
              model + " - config.json id2label must number labels 0.." + (byId.size() - 1));
        }
        labels.add(entry.getValue());
      }
    }
    long[] inputShape = null;
    JsonNode shape = root.path("input_shape");
    if (shape.isArray()) {
      inputShape = new long[shape.size()];
      for (int i = 0; i < shape.size(); i++) {
        if (!shape.get(i).canConvertToLong() || shape.get(i).asLong() < 1) {
          throw new ModelLoadException(
              model + " - config.json input_shape must be positive whole numbers");
        }
        inputShape[i] = shape.get(i).asLong();
      }
    }
    return new ModelMetadata(List.copyOf(labels), inputShape);
  }

  /**
   * The model's {@code config.json}, or null when the snapshot has none.
   *
   * @throws ModelLoadException when it is not valid JSON
   */
  static @Nullable JsonNode readConfig(Path snapshotDir, ObjectMapper json, String model)
      throws ModelLoadException {
    Path file = snapshotDir.resolve("config.json");
    if (!Files.exists(file)) {
      return null;
    }
    try {
      return json.readTree(file.toFile());
    } catch (IOException e) {
      throw new ModelLoadException(
          model + " - config.json is not valid JSON: " + e.getMessage(), e);
    }
  }
}
