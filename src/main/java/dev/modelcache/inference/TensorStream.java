package dev.modelcache.inference;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The fast path of a plain {@code tensor} request, {@code {"model": "iris", "inputs": [[5.1, 3.5,
 * 1.4, 0.2]]}}: read straight from the body's bytes by Jackson's streaming parser into one
 * primitive array, with no tree and no boxed numbers. It takes only a body that the tree path
 * ({@link TensorRequest}) would accept as it is: one object with at most {@code "model"} (the
 * model's name) and {@code "inputs"} (a rectangular nested array, or one value, of the dtype the
 * model declares), well-formed, each value fitting its dtype. For anything else it answers null and
 * the caller takes the tree path, whose messages say what is wrong: the two read every accepted
 * body into the same tensor.
 *
 * <pre>{@code
 * Tensor input = TensorStream.parse(body, body.length, "iris", "float32"); // null: the tree path
 * }</pre>
 */
final class TensorStream {
  private static final JsonFactory JSON = new JsonFactory(); // ObjectMapper's defaults

  private TensorStream() {}

  /**
   * The body's {@code inputs} as a tensor, or null when the body is not the plain form.
   *
   * @param model the body's {@code "model"}, if it has one, must be this
   * @param dtype the model's declared dtype of its first input; null: {@code bool} when the values
   *     are JSON booleans, else {@code float32} (as the tree path decides)
   */
  static @Nullable Tensor parse(byte[] body, int length, String model, @Nullable String dtype) {
    try (JsonParser p = JSON.createParser(body, 0, length)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      Tensor tensor = null;
      boolean named = false;
      JsonToken token;
      while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        if (field.equals("model") && !named) {
          if (value != JsonToken.VALUE_STRING || !p.getText().equals(model)) {
            return null;
          }
          named = true;
        } else if (field.equals("inputs") && tensor == null) {
          tensor = inputs(p, dtype);
          if (tensor == null) {
            return null;
          }
        } else {
          return null;
        }
      }
      if (token != JsonToken.END_OBJECT || p.nextToken() != null) {
        return null;
      }
      return tensor;
    } catch (IOException | RuntimeException e) {
      return null; // not JSON, or past the parser's limits: the tree path says so
    }
  }

  /** The value at the parser's current token, a rectangular nested array or one value. */
  private static @Nullable Tensor inputs(JsonParser p, @Nullable String dtype) throws IOException {
    int max = TensorCodec.MAX_RANK;
    long[] dims = new long[max];
    Arrays.fill(dims, -1);
    int[] count = new int[max];
    int depth = 0;
    int rank = -1; // the depth of the values, set by the first
    Values values = new Values(dtype, 0);
    JsonToken token = p.currentToken();
    do {
      if (token == JsonToken.START_ARRAY) {
        if (depth == max || (rank >= 0 && depth >= rank)) {
          return null; // too deep, or an array where the first row has a value
        }
        if (depth > 0) {
          count[depth - 1]++;
        }
        count[depth++] = 0;
      } else if (token == JsonToken.END_ARRAY) {
        int n = count[--depth];
        if (n == 0 || (dims[depth] >= 0 && dims[depth] != n)) {
          return null; // empty, or not as long as the first array at its depth
        }
        dims[depth] = n;
      } else {
        if (rank < 0) {
          rank = depth;
        } else if (rank != depth) {
          return null; // a value where the first row has an array
        }
        if (depth > 0) {
          count[depth - 1]++;
        }
        if (!values.add(p, token)) {
          return null;
        }
      }
    } while (depth > 0 && (token = p.nextToken()) != null);
    if (depth != 0 || rank < 0) {
      return null;
    }
    return values.toTensor(Arrays.copyOf(dims, rank));
  }

  /**
   * The values read so far, in a growing primitive array of the dtype's kind (also {@link
   * V2Stream}'s).
   */
  static final class Values {
    private @Nullable String dtype;
    private double[] floats = new double[0];
    private long[] ints = new long[0];
    private boolean[] bools = new boolean[0];
    private int size;

    /**
     * @param capacity the values expected, a hint
     */
    Values(@Nullable String dtype, int capacity) {
      this.dtype = dtype;
      if ("float32".equals(dtype) || "float64".equals(dtype)) {
        floats = new double[capacity];
      } else if ("int32".equals(dtype) || "int64".equals(dtype)) {
        ints = new long[capacity];
      } else if ("bool".equals(dtype)) {
        bools = new boolean[capacity];
      }
    }

    int size() {
      return size;
    }

    /** Adds a value; false when it does not fit the dtype exactly as the tree path reads it. */
    boolean add(JsonParser p, JsonToken token) throws IOException {
      boolean bool = token == JsonToken.VALUE_TRUE || token == JsonToken.VALUE_FALSE;
      String type = dtype;
      if (type == null) {
        type = bool ? "bool" : "float32";
        dtype = type;
      }
      switch (type) {
        case "float32", "float64" -> {
          double value;
          if (token == JsonToken.VALUE_NUMBER_FLOAT) {
            value = p.getDoubleValue();
          } else if (token == JsonToken.VALUE_NUMBER_INT && isLong(p)) {
            value = p.getLongValue();
          } else {
            return false;
          }
          if (!Double.isFinite(value)
              || (type.equals("float32") && Math.abs(value) > Float.MAX_VALUE)) {
            return false;
          }
          if (size == floats.length) {
            floats = Arrays.copyOf(floats, Math.max(16, size * 2));
          }
          floats[size++] = value;
        }
        case "int32", "int64" -> {
          if (token != JsonToken.VALUE_NUMBER_INT || !isLong(p)) {
            return false;
          }
          long value = p.getLongValue();
          if (type.equals("int32") && (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE)) {
            return false;
          }
          if (size == ints.length) {
            ints = Arrays.copyOf(ints, Math.max(16, size * 2));
          }
          ints[size++] = value;
        }
        default -> {
          if (!bool) {
            return false;
          }
          if (size == bools.length) {
            bools = Arrays.copyOf(bools, Math.max(16, size * 2));
          }
          bools[size++] = token == JsonToken.VALUE_TRUE;
        }
      }
      return true;
    }

    static boolean isLong(JsonParser p) throws IOException {
      JsonParser.NumberType type = p.getNumberType();
      return type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG;
    }

    Tensor toTensor(long[] shape) {
      String type = dtype == null ? "float32" : dtype;
      return switch (type) {
        case "float32", "float64" ->
            Tensor.ofFloats(
                type, shape, size == floats.length ? floats : Arrays.copyOf(floats, size));
        case "int32", "int64" ->
            Tensor.ofInts(type, shape, size == ints.length ? ints : Arrays.copyOf(ints, size));
        default -> Tensor.ofBools(shape, size == bools.length ? bools : Arrays.copyOf(bools, size));
      };
    }
  }
}
