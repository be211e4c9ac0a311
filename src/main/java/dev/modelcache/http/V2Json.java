package dev.modelcache.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.inference.ModelRegistry.V2Metadata;
import dev.modelcache.inference.V2Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The JSON of the Open Inference Protocol v2 REST API (KServe's {@code rest_predict_v2.yaml}):
 * inference requests in, inference responses and model metadata out. Tensor data may be flat or
 * nested; it is handed on flat, after its element count was checked against the shape.
 */
final class V2Json {
  // model_name: Triton's documents send it; the path names the model (V2Routes checks they agree)
  private static final Set<String> REQUEST_FIELDS =
      Set.of("id", "model_name", "parameters", "inputs", "outputs");
  private static final Set<String> INPUT_FIELDS =
      Set.of("name", "shape", "datatype", "parameters", "data");

  private V2Json() {}

  /**
   * An inference request.
   *
   * @param id echoed in the response; null when the request has none
   * @param outputs the output names asked for; empty for all
   */
  record Request(@Nullable String id, List<V2Tensor> inputs, List<String> outputs) {}

  static Request parseRequest(JsonNode body) {
    for (String field : (Iterable<String>) body::fieldNames) {
      if (!REQUEST_FIELDS.contains(field)) {
        throw new InvalidInputException(
            "inference request has an unknown field '"
                + field
                + "' (allowed: id, model_name, parameters, inputs, outputs)");
      }
    }
    JsonNode id = body.get("id");
    if (id != null && !id.isTextual()) {
      throw new InvalidInputException("'id' must be a string");
    }
    JsonNode parameters = body.get("parameters");
    if (parameters != null && !parameters.isObject()) {
      throw new InvalidInputException("'parameters' must be an object");
    }
    JsonNode inputs = body.get("inputs");
    if (inputs == null || !inputs.isArray() || inputs.isEmpty()) {
      throw new InvalidInputException(
          "inference request needs 'inputs': a non-empty list of"
              + " {\"name\", \"shape\", \"datatype\", \"data\"}");
    }
    List<V2Tensor> tensors = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < inputs.size(); i++) {
      V2Tensor tensor = input(inputs.get(i), "inputs[" + i + "]");
      if (!names.add(tensor.name())) {
        throw new InvalidInputException("input '" + tensor.name() + "' is given twice");
      }
      tensors.add(tensor);
    }
    List<String> outputs = new ArrayList<>();
    JsonNode wanted = body.get("outputs");
    if (wanted != null) {
      if (!wanted.isArray()) {
        throw new InvalidInputException("'outputs' must be a list of {\"name\": ...}");
      }
      for (int i = 0; i < wanted.size(); i++) {
        JsonNode name = wanted.get(i).path("name");
        if (!name.isTextual()) {
          throw new InvalidInputException("outputs[" + i + "] needs a 'name' (a string)");
        }
        outputs.add(name.asText());
      }
    }
    return new Request(id == null ? null : id.asText(), tensors, outputs);
  }

  private static V2Tensor input(JsonNode node, String where) {
    if (!node.isObject()) {
      throw new InvalidInputException(
          where + " must be an object {\"name\", \"shape\", \"datatype\", \"data\"}");
    }
    for (String field : (Iterable<String>) node::fieldNames) {
      if (!INPUT_FIELDS.contains(field)) {
        throw new InvalidInputException(
            where
                + " has an unknown field '"
                + field
                + "' (allowed: name, shape, datatype, parameters, data)");
      }
    }
    for (String field : List.of("name", "datatype")) {
      if (!node.path(field).isTextual()) {
        throw new InvalidInputException(where + " needs '" + field + "' (a string)");
      }
    }
    String name = node.get("name").asText();
    String label = "input '" + name + "'";
    long[] shape = shape(node.path("shape"), label);
    long count = count(shape, label);
    JsonNode data = node.get("data");
    if (data == null || data.isNull()) {
      throw new InvalidInputException(label + " needs 'data' (a flat or nested list)");
    }
    ArrayNode flat = JsonNodeFactory.instance.arrayNode();
    flatten(data.isArray() ? data : JsonNodeFactory.instance.arrayNode().add(data), flat);
    if (flat.size() != count) {
      throw new InvalidInputException(
          label
              + " has "
              + flat.size()
              + " values but its shape "
              + java.util.Arrays.toString(shape)
              + " needs "
              + count);
    }
    return new V2Tensor(name, shape, node.get("datatype").asText(), flat);
  }

  /** An input's {@code shape}: a list of whole numbers >= 0. */
  static long[] shape(JsonNode shapeNode, String label) {
    if (!shapeNode.isArray()) {
      throw new InvalidInputException(label + " needs 'shape' (a list of whole numbers)");
    }
    return V2Tensor.shapeOf(shapeNode, label + " shape");
  }

  /** The number of elements of a tensor of {@code shape}. */
  static long count(long[] shape, String label) {
    long count = 1;
    for (long d : shape) {
      try {
        count = Math.multiplyExact(count, d);
      } catch (ArithmeticException e) {
        throw new InvalidInputException(label + " has a shape with too many elements");
      }
    }
    return count;
  }

  private static void flatten(JsonNode node, ArrayNode out) {
    for (JsonNode child : node) {
      if (child.isArray()) {
        flatten(child, out);
      } else {
        out.add(child);
      }
    }
  }

  static ObjectNode response(ObjectMapper json, String model, Request request, V2Answer answer) {
    ObjectNode body = json.createObjectNode();
    body.put("model_name", model);
    body.put("model_version", answer.revision());
    if (request.id() != null) {
      body.put("id", request.id());
    }
    List<V2Tensor> outputs = answer.outputs();
    if (!request.outputs().isEmpty()) {
      Set<String> known = new LinkedHashSet<>();
      outputs.forEach(t -> known.add(t.name()));
      V2Tensor.checkWanted(model, known, request.outputs());
      outputs = outputs.stream().filter(t -> request.outputs().contains(t.name())).toList();
    }
    ArrayNode list = body.putArray("outputs");
    for (V2Tensor tensor : outputs) {
      ObjectNode out = list.addObject();
      out.put("name", tensor.name());
      out.put("datatype", tensor.datatype());
      ArrayNode shape = out.putArray("shape");
      for (long d : tensor.shape()) {
        shape.add(d);
      }
      out.set("data", tensor.data());
    }
    return body;
  }

  static ObjectNode metadata(ObjectMapper json, V2Metadata metadata) {
    ObjectNode body = json.createObjectNode();
    body.put("name", metadata.name());
    body.putArray("versions").add(metadata.revision());
    body.put("platform", metadata.platform());
    body.set("inputs", specs(json, metadata.inputs()));
    body.set("outputs", specs(json, metadata.outputs()));
    return body;
  }

  private static ArrayNode specs(ObjectMapper json, List<V2Tensor.Spec> specs) {
    ArrayNode list = json.createArrayNode();
    for (V2Tensor.Spec spec : specs) {
      ObjectNode s = list.addObject();
      s.put("name", spec.name());
      s.put("datatype", spec.datatype());
      ArrayNode shape = s.putArray("shape");
      for (long d : spec.shape()) {
        shape.add(d);
      }
    }
    return list;
  }
}
