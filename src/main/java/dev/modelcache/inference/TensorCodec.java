package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * JSON nested arrays of numbers to and from {@link Tensor}s, with messages that point at the bad
 * element.
 */
final class TensorCodec {
  static final int MAX_RANK = 8;

  private TensorCodec() {}

  /** Parses a rectangular nested array of numbers (or a single number) as a float32 tensor. */
  static Tensor parseFloat32(JsonNode node, String name) {
    List<Long> shape = new ArrayList<>();
    JsonNode probe = node;
    while (probe.isArray()) {
      if (shape.size() == MAX_RANK) {
        throw new InvalidInputException(
            name
                + " nests deeper than "
                + MAX_RANK
                + " levels; at most "
                + MAX_RANK
                + " dimensions are supported");
      }
      if (probe.isEmpty()) {
        throw new InvalidInputException(
            name
                + " has an empty array"
                + (shape.isEmpty() ? "" : " at depth " + shape.size())
                + "; every dimension needs at least one element");
      }
      shape.add((long) probe.size());
      probe = probe.get(0);
    }
    long[] dims = shape.stream().mapToLong(Long::longValue).toArray();
    long count = Arrays.stream(dims).reduce(1, Math::multiplyExact);
    double[] values = new double[Math.toIntExact(count)];
    int[] cursor = {0};
    fill(node, dims, 0, name, values, cursor);
    return Tensor.ofFloats("float32", dims, values);
  }

  private static void fill(
      JsonNode node, long[] dims, int depth, String path, double[] out, int[] cursor) {
    if (depth == dims.length) {
      if (!node.isNumber()) {
        throw new InvalidInputException(
            path
                + " is "
                + kind(node)
                + "; expected a number"
                + (dims.length == 0
                    ? ""
                    : " ("
                        + path.substring(0, path.indexOf('['))
                        + " must be a rectangular array"
                        + " of numbers of shape "
                        + Arrays.toString(dims)
                        + ")"));
      }
      double value = node.doubleValue();
      if (!Double.isFinite(value) || Math.abs(value) > Float.MAX_VALUE) {
        throw new InvalidInputException(path + " (" + node.asText() + ") does not fit in float32");
      }
      out[cursor[0]++] = value;
      return;
    }
    if (!node.isArray()) {
      throw new InvalidInputException(
          path
              + " is "
              + kind(node)
              + " but should be an array of "
              + dims[depth]
              + " elements: inputs must be a rectangular array of shape "
              + Arrays.toString(dims));
    }
    if (node.size() != dims[depth]) {
      throw new InvalidInputException(
          path
              + " has "
              + node.size()
              + " elements but "
              + dims[depth]
              + " were expected: inputs must be a rectangular array of shape "
              + Arrays.toString(dims));
    }
    for (int i = 0; i < node.size(); i++) {
      fill(node.get(i), dims, depth + 1, path + "[" + i + "]", out, cursor);
    }
  }

  private static String kind(JsonNode node) {
    if (node.isTextual()) {
      return "a string";
    }
    if (node.isBoolean()) {
      return "a boolean";
    }
    if (node.isNull()) {
      return "null";
    }
    if (node.isObject()) {
      return "an object";
    }
    if (node.isArray()) {
      return "an array";
    }
    return "a number";
  }

  /** The tensor as nested arrays following its shape (a bare number for rank 0). */
  static JsonNode toJson(Tensor tensor) {
    int[] cursor = {0};
    return build(tensor, 0, cursor);
  }

  private static JsonNode build(Tensor tensor, int depth, int[] cursor) {
    JsonNodeFactory f = JsonNodeFactory.instance;
    if (depth == tensor.shape().length) {
      int i = cursor[0]++;
      if (tensor.floats() != null) {
        return f.numberNode(tensor.floats()[i]);
      }
      if (tensor.ints() != null) {
        return f.numberNode(tensor.ints()[i]);
      }
      return f.booleanNode(tensor.bools()[i]);
    }
    ArrayNode array = f.arrayNode();
    for (long k = 0; k < tensor.shape()[depth]; k++) {
      array.add(build(tensor, depth + 1, cursor));
    }
    return array;
  }
}
