package dev.modelcache.inference.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.TensorCodec;
import dev.modelcache.inference.V2Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reading the strings of a request (JSON or Open Inference Protocol v2) and writing tensors. */
final class Inputs {
  static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  private Inputs() {}

  /**
   * {@code inputs} of {@code POST /inference}: one string, or a non-empty list of strings.
   *
   * @param what what a string stands for in messages ("text", "base64 image")
   * @param example an example of a valid {@code inputs}
   */
  static List<String> strings(JsonNode inputs, String what, String example) {
    if (inputs == null || inputs.isNull() || inputs.isMissingNode()) {
      throw new InvalidInputException(
          "request has no 'inputs': send {\"inputs\": " + example + "}");
    }
    if (inputs.isTextual()) {
      return List.of(inputs.asText());
    }
    if (!inputs.isArray()) {
      throw new InvalidInputException(
          "inputs is "
              + kind(inputs)
              + "; expected a "
              + what
              + " or a list of them, such as "
              + example);
    }
    if (inputs.isEmpty()) {
      throw new InvalidInputException(
          "inputs is an empty list; send at least one " + what + ", such as " + example);
    }
    List<String> items = new ArrayList<>(inputs.size());
    for (int i = 0; i < inputs.size(); i++) {
      JsonNode item = inputs.get(i);
      if (!item.isTextual()) {
        throw new InvalidInputException(
            "inputs[" + i + "] is " + kind(item) + "; expected a " + what + " (a JSON string)");
      }
      items.add(item.asText());
    }
    return items;
  }

  /**
   * The strings of the one BYTES input tensor of an Open Inference Protocol v2 request, of shape
   * {@code [N]} or {@code [N, 1]}.
   */
  static List<String> v2Strings(List<V2Tensor> inputs, String expectedName, String what) {
    if (inputs == null || inputs.size() != 1) {
      throw new InvalidInputException(
          "expected one input tensor ('"
              + expectedName
              + "', datatype BYTES, shape [N]) holding "
              + what
              + "s, got "
              + (inputs == null ? 0 : inputs.size()));
    }
    V2Tensor tensor = inputs.get(0);
    String name = "input '" + tensor.name() + "'";
    if (!"BYTES".equals(tensor.datatype())) {
      throw new InvalidInputException(
          name + " has datatype " + tensor.datatype() + "; send " + what + "s as BYTES");
    }
    long[] shape = tensor.shape();
    if (shape == null
        || shape.length == 0
        || shape.length > 2
        || (shape.length == 2 && shape[1] != 1)
        || shape[0] < 1) {
      throw new InvalidInputException(
          name
              + " has shape "
              + Arrays.toString(shape)
              + "; expected [N] (or [N, 1]): one "
              + what
              + " per row, at least one");
    }
    JsonNode data = tensor.data();
    if (data == null || !data.isArray() || data.size() != shape[0]) {
      throw new InvalidInputException(
          name
              + " has "
              + (data == null || !data.isArray() ? "no data list" : data.size() + " data elements")
              + " but shape "
              + Arrays.toString(shape)
              + " needs "
              + shape[0]);
    }
    List<String> items = new ArrayList<>(data.size());
    for (int i = 0; i < data.size(); i++) {
      if (!data.get(i).isTextual()) {
        throw new InvalidInputException(
            name + " data[" + i + "] is " + kind(data.get(i)) + "; BYTES data are JSON strings");
      }
      items.add(data.get(i).asText());
    }
    return items;
  }

  static V2Tensor fp32(String name, long[] shape, float[] values) {
    ArrayNode data = JSON.arrayNode(values.length);
    for (float v : values) {
      data.add(v);
    }
    return new V2Tensor(name, shape, "FP32", data);
  }

  /** What a JSON value is, for messages; a list is "a list" here, the words texts' users know. */
  static String kind(JsonNode node) {
    return node.isArray() ? "a list" : TensorCodec.kind(node);
  }
}
