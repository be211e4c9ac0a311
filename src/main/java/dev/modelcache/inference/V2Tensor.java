package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Set;

/**
 * One tensor of an Open Inference Protocol v2 request or response: {@code {name, shape, datatype,
 * data}}.
 *
 * @param name the tensor's name
 * @param shape its dimensions (-1 for a variable one only in a {@link Spec})
 * @param datatype one of the protocol's names: {@code BOOL}, {@code INT32}, {@code INT64}, {@code
 *     FP32}, {@code FP64}, {@code BYTES} (strings), ...
 * @param data a flat JSON array in row-major order
 */
public record V2Tensor(String name, long[] shape, String datatype, JsonNode data) {

  /**
   * What a model's metadata says of one input or output.
   *
   * @param shape -1 marks a variable dimension
   */
  public record Spec(String name, String datatype, long[] shape) {}

  /** A tensor's shape from JSON: a list of whole numbers >= 0, else a 400 naming {@code path}. */
  public static long[] shapeOf(JsonNode shape, String path) {
    if (!shape.isArray()) {
      throw new InvalidInputException(path + " must be a list of whole numbers");
    }
    long[] dims = new long[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      JsonNode d = shape.get(i);
      if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
        throw new InvalidInputException(
            path + "[" + i + "] is " + d + "; dimensions are whole numbers >= 0");
      }
      dims[i] = d.asLong();
    }
    return dims;
  }

  /**
   * Checks the outputs a request asks for against those {@code model} gives ({@code known}, in its
   * order): a 400 naming the first it does not give.
   */
  public static void checkWanted(String model, Set<String> known, List<String> wanted) {
    for (String name : wanted) {
      if (!known.contains(name)) {
        throw new InvalidInputException(
            "output '"
                + name
                + "' is not an output of model "
                + model
                + " (outputs: "
                + String.join(", ", known)
                + ")");
      }
    }
  }
}
