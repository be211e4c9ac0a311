package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * JSON arrays to and from {@link Tensor}s of every supported dtype, with messages that point at the
 * bad element. Nested arrays give their shape; flat (or nested) data with a separate shape is the
 * Open Inference Protocol's form.
 */
public final class TensorCodec {
  static final int MAX_RANK = 8;

  /** Our dtype names, in the order the docs list them. */
  static final List<String> DTYPES = List.of("float32", "float64", "int32", "int64", "bool");

  private TensorCodec() {}

  /**
   * Parses a rectangular nested array (or a single value) as a tensor of that shape.
   *
   * @param dtype the tensor's dtype; null: {@code bool} when the values are JSON booleans, else
   *     {@code float32}
   */
  static Tensor parseNested(JsonNode node, String name, @Nullable String dtype) {
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
    String type = dtype != null ? dtype : probe.isBoolean() ? "bool" : "float32";
    long[] dims = new long[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = shape.get(i);
    }
    // Every write consumes a distinct leaf and a wrong-sized array is reported before its elements
    // are written, so min(product, leaves) slots suffice even for a ragged or hostile input.
    long product = product(dims, name);
    Values values = new Values(type, (int) Math.min(product, countLeaves(node)));
    fill(node, dims, 0, new ElementPath(name), values);
    return values.toTensor(dims);
  }

  /**
   * Parses {@code data} (flat, or nested in any way: its leaves are taken in row-major order) as a
   * tensor of {@code shape}.
   */
  static Tensor parseFlat(JsonNode data, long[] shape, String dtype, String name) {
    if (shape.length > MAX_RANK) {
      throw new InvalidInputException(
          name + " has " + shape.length + " dimensions; at most " + MAX_RANK + " are supported");
    }
    for (long dim : shape) {
      if (dim < 0) {
        throw new InvalidInputException(
            name + " has shape " + Arrays.toString(shape) + "; dimensions cannot be negative");
      }
    }
    long product = product(shape, name);
    long leaves = countLeaves(data);
    if (product != leaves) {
      throw new InvalidInputException(
          name
              + " has "
              + leaves
              + " values but its shape "
              + Arrays.toString(shape)
              + " needs "
              + product);
    }
    Values values = new Values(dtype, (int) leaves);
    flatten(data, new ElementPath(name), values);
    return values.toTensor(shape.clone());
  }

  private static long product(long[] dims, String name) {
    try {
      long product = 1;
      for (long dim : dims) {
        product = Math.multiplyExact(product, dim);
      }
      if (product > Integer.MAX_VALUE) {
        throw new ArithmeticException();
      }
      return product;
    } catch (ArithmeticException e) {
      throw new InvalidInputException(
          name + " of shape " + Arrays.toString(dims) + " has too many elements");
    }
  }

  private static long countLeaves(JsonNode node) {
    if (!node.isArray()) {
      return 1;
    }
    long count = 0;
    for (JsonNode child : node) {
      count += countLeaves(child);
    }
    return count;
  }

  private static void flatten(JsonNode node, ElementPath path, Values out) {
    if (node.isArray()) {
      path.down();
      for (int i = 0; i < node.size(); i++) {
        path.at(i);
        flatten(node.get(i), path, out);
      }
      path.up();
    } else {
      out.add(node, path, null);
    }
  }

  private static void fill(JsonNode node, long[] dims, int depth, ElementPath path, Values out) {
    if (depth == dims.length) {
      out.add(node, path, dims.length == 0 ? null : dims);
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
    path.down();
    for (int i = 0; i < node.size(); i++) {
      path.at(i);
      fill(node.get(i), dims, depth + 1, path, out);
    }
    path.up();
  }

  /** What a JSON value is, for messages: "a string", "an array", "null", ... */
  public static String kind(JsonNode node) {
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

  /** Our dtype for a dtype name as a request writes it, or an error listing the known ones. */
  static String dtype(String text, String name) {
    String lower = text.toLowerCase(Locale.ROOT);
    if (DTYPES.contains(lower)) {
      return lower;
    }
    throw new InvalidInputException(
        name + " has dtype '" + text + "'; use one of " + String.join(", ", DTYPES));
  }

  /** Our dtype for an Open Inference Protocol datatype, or an error naming the ones supported. */
  static String fromV2(String datatype, String name) {
    return switch (datatype) {
      case "FP32" -> "float32";
      case "FP64" -> "float64";
      case "INT32" -> "int32";
      case "INT64" -> "int64";
      case "BOOL" -> "bool";
      default ->
          throw new InvalidInputException(
              name
                  + " has datatype '"
                  + datatype
                  + "'; a tensor model takes FP32, FP64, INT32, INT64 or BOOL"
                  + (datatype.equals("BYTES") ? " (BYTES is for the text tasks)" : ""));
    };
  }

  /** The Open Inference Protocol datatype of one of our dtypes. */
  static String toV2(String dtype) {
    return switch (dtype) {
      case "float32" -> "FP32";
      case "float64" -> "FP64";
      case "int32" -> "INT32";
      case "int64" -> "INT64";
      case "bool" -> "BOOL";
      default -> throw new IllegalArgumentException("dtype (" + dtype + ") is not known");
    };
  }

  /** The tensor as nested arrays following its shape (a bare value for rank 0). */
  static JsonNode toJson(Tensor tensor) {
    int[] cursor = {0};
    return build(tensor, 0, cursor);
  }

  /** The tensor's values as one flat array, row-major. */
  static ArrayNode toFlatJson(Tensor tensor) {
    ArrayNode array = JsonNodeFactory.instance.arrayNode(tensor.size());
    for (int i = 0; i < tensor.size(); i++) {
      addValue(array, tensor, i);
    }
    return array;
  }

  /** A tensor with neither floats nor ints holds bools. */
  private static final String BOOL = "a bool tensor";

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
      return f.booleanNode(Objects.requireNonNull(tensor.bools(), BOOL)[i]);
    }
    ArrayNode array = f.arrayNode((int) tensor.shape()[depth]);
    if (depth == tensor.shape().length - 1) {
      for (long k = 0; k < tensor.shape()[depth]; k++) {
        addValue(array, tensor, cursor[0]++);
      }
      return array;
    }
    for (long k = 0; k < tensor.shape()[depth]; k++) {
      array.add(build(tensor, depth + 1, cursor));
    }
    return array;
  }

  private static void addValue(ArrayNode array, Tensor tensor, int i) {
    if (tensor.floats() != null) {
      array.add(tensor.floats()[i]);
    } else if (tensor.ints() != null) {
      array.add(tensor.ints()[i]);
    } else {
      array.add(Objects.requireNonNull(tensor.bools(), BOOL)[i]);
    }
  }

  /** The values of one tensor being parsed, checked against its dtype one by one. */
  private static final class Values {
    private final String dtype;
    private final double @Nullable [] floats;
    private final long @Nullable [] ints;
    private final boolean @Nullable [] bools;
    private int size;

    Values(String dtype, int capacity) {
      this.dtype = dtype;
      boolean isFloat = dtype.startsWith("float");
      boolean isBool = dtype.equals("bool");
      this.floats = isFloat ? new double[capacity] : null;
      this.bools = isBool ? new boolean[capacity] : null;
      this.ints = !isFloat && !isBool ? new long[capacity] : null;
    }

    /**
     * @param rectangular the shape the whole input must have, added to a type error, or null
     */
    void add(JsonNode leaf, ElementPath path, long @Nullable [] rectangular) {
      switch (dtype) {
        case "float32", "float64" -> {
          if (!leaf.isNumber()) {
            throw new InvalidInputException(
                path + " is " + kind(leaf) + "; expected a number" + suffix(path, rectangular));
          }
          double value = leaf.doubleValue();
          if (!Double.isFinite(value)
              || (dtype.equals("float32") && Math.abs(value) > Float.MAX_VALUE)) {
            throw new InvalidInputException(
                path + " (" + leaf.asText() + ") does not fit in " + dtype);
          }
          Objects.requireNonNull(floats, dtype)[size++] = value;
        }
        case "int32", "int64" -> {
          if (!leaf.isNumber()) {
            throw new InvalidInputException(
                path
                    + " is "
                    + kind(leaf)
                    + "; expected a whole number ("
                    + dtype
                    + ")"
                    + suffix(path, rectangular));
          }
          if (!leaf.isIntegralNumber() || !leaf.canConvertToLong()) {
            throw new InvalidInputException(
                path + " (" + leaf.asText() + ") is not a whole number that fits in " + dtype);
          }
          long value = leaf.longValue();
          if (dtype.equals("int32") && (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE)) {
            throw new InvalidInputException(path + " (" + value + ") does not fit in int32");
          }
          Objects.requireNonNull(ints, dtype)[size++] = value;
        }
        default -> {
          if (!leaf.isBoolean()) {
            throw new InvalidInputException(
                path
                    + " is "
                    + kind(leaf)
                    + "; expected true or false (bool)"
                    + suffix(path, rectangular));
          }
          Objects.requireNonNull(bools, dtype)[size++] = leaf.booleanValue();
        }
      }
    }

    /** The rule of a nested input, " (inputs must be a rectangular array of shape [2, 4])". */
    private static String suffix(ElementPath path, long @Nullable [] rectangular) {
      if (rectangular == null) {
        return "";
      }
      String text = path.toString();
      return " ("
          + text.substring(0, text.indexOf('['))
          + " must be a rectangular array of shape "
          + Arrays.toString(rectangular)
          + ")";
    }

    Tensor toTensor(long[] shape) {
      if (floats != null) {
        return Tensor.ofFloats(dtype, shape, trim(floats));
      }
      if (ints != null) {
        return Tensor.ofInts(dtype, shape, size == ints.length ? ints : Arrays.copyOf(ints, size));
      }
      boolean[] values = Objects.requireNonNull(bools, dtype);
      return Tensor.ofBools(shape, size == values.length ? values : Arrays.copyOf(values, size));
    }

    private double[] trim(double[] values) {
      return size == values.length ? values : Arrays.copyOf(values, size);
    }
  }
}
