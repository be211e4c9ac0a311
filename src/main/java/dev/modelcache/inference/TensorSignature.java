package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What a {@code tensor} model's {@code config.json} declares about its inputs and outputs: {@code
 * inputs} and {@code outputs} as lists of {@code {"name", "datatype", "shape"}} (Open Inference
 * Protocol datatypes; the shape of one item without the batch dimension, -1 for a variable
 * dimension), or the older {@code input_shape} (one FP32 input). Empty lists when nothing is
 * declared.
 */
record TensorSignature(List<V2Tensor.Spec> inputs, List<V2Tensor.Spec> outputs) {
  static final TensorSignature NONE = new TensorSignature(List.of(), List.of());

  static TensorSignature read(Path snapshotDir, ObjectMapper json, String model)
      throws ModelLoadException {
    JsonNode root = ModelMetadata.readConfig(snapshotDir, json, model);
    if (root == null) {
      return NONE;
    }
    List<V2Tensor.Spec> inputs = specs(root.path("inputs"), "inputs", model);
    List<V2Tensor.Spec> outputs = specs(root.path("outputs"), "outputs", model);
    JsonNode shape = root.path("input_shape");
    if (shape.isArray()) {
      if (!inputs.isEmpty()) {
        throw new ModelLoadException(
            model + " - config.json has both input_shape and inputs; keep one (inputs)");
      }
      inputs = List.of(new V2Tensor.Spec("input0", "FP32", dims(shape, "input_shape", model)));
    }
    return new TensorSignature(inputs, outputs);
  }

  private static List<V2Tensor.Spec> specs(JsonNode list, String key, String model)
      throws ModelLoadException {
    if (list.isMissingNode()) {
      return List.of();
    }
    if (!list.isArray()) {
      throw new ModelLoadException(
          model + " - config.json " + key + " must be a list of {name, datatype, shape}");
    }
    List<V2Tensor.Spec> specs = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < list.size(); i++) {
      JsonNode spec = list.get(i);
      String where = key + "[" + i + "]";
      if (!spec.path("name").isTextual() || !spec.path("datatype").isTextual()) {
        throw new ModelLoadException(
            model + " - config.json " + where + " needs a name and a datatype (FP32, INT64, ...)");
      }
      String datatype = spec.get("datatype").asText();
      try {
        TensorCodec.fromV2(datatype, where);
      } catch (InvalidInputException e) {
        throw new ModelLoadException(model + " - config.json " + e.getMessage(), e);
      }
      if (!names.add(spec.get("name").asText())) {
        throw new ModelLoadException(
            model + " - config.json " + key + " names '" + spec.get("name").asText() + "' twice");
      }
      specs.add(
          new V2Tensor.Spec(
              spec.get("name").asText(), datatype, dims(spec.path("shape"), where, model)));
    }
    return List.copyOf(specs);
  }

  private static long[] dims(JsonNode shape, String key, String model) throws ModelLoadException {
    if (!shape.isArray()) {
      throw new ModelLoadException(
          model + " - config.json " + key + " needs a shape: a list of whole numbers");
    }
    long[] dims = new long[shape.size()];
    for (int i = 0; i < shape.size(); i++) {
      JsonNode d = shape.get(i);
      if (!d.canConvertToLong() || !d.isIntegralNumber() || (d.asLong() < 1 && d.asLong() != -1)) {
        throw new ModelLoadException(
            model
                + " - config.json "
                + key
                + " shape must be positive whole numbers (-1 for a variable dimension)");
      }
      dims[i] = d.asLong();
    }
    return dims;
  }
}
