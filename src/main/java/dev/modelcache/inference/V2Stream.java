package dev.modelcache.inference;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The fast path of an Open Inference Protocol v2 JSON request of a {@code tensor} model, {@code
 * {"id"?, "model_name"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data",
 * "parameters"?}], "outputs"?: [{"name", "parameters"?}]}}: read straight from the body's bytes by
 * Jackson's streaming parser into a primitive array per input, of its datatype (FP32, FP64, INT32,
 * INT64, BOOL), with no tree and no boxed numbers. {@code data} may be flat or nested in any way
 * (its values are taken in row-major order), and may come before the input's datatype.
 *
 * <p>It takes only a body that the tree path ({@code http.V2Json}, then {@link
 * TensorRequest#parseV2}) would accept as it is: well-formed, no field twice, no binary data asked
 * for or sent ({@code binary_data_output}, {@code binary_data}, {@code binary_data_size}), each
 * value fitting its datatype, as many values as the shape needs. For anything else it answers null
 * and the caller takes the tree path, whose messages say what is wrong.
 *
 * <pre>{@code
 * V2Stream.Request request = V2Stream.parse(body, body.length, "iris", "iris"); // null: the tree
 * }</pre>
 */
final class V2Stream {
  private static final JsonFactory JSON = new JsonFactory(); // ObjectMapper's defaults
  private static final List<String> REQUEST_FIELDS =
      List.of("id", "model_name", "parameters", "inputs", "outputs");
  private static final List<String> INPUT_FIELDS =
      List.of("name", "shape", "datatype", "parameters", "data");

  private V2Stream() {}

  /** One input as read: its name and its values in the shape it declares. */
  record Input(String name, Tensor tensor) {}

  /**
   * A request as the fast path reads it.
   *
   * @param id echoed in the answer; null when the request has none
   * @param outputs the output names asked for; empty for all
   */
  record Request(@Nullable String id, List<Input> inputs, List<String> outputs) {}

  /**
   * The request in the first {@code length} bytes of {@code body}, or null when the tree path must
   * read it.
   *
   * @param model the model's name and {@code pathName} its name in the request's path: the body's
   *     {@code model_name}, if it has one, must be one of them
   */
  static @Nullable Request parse(byte[] body, int length, String model, String pathName) {
    try (JsonParser p = JSON.createParser(body, 0, length)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      String id = null;
      List<Input> inputs = null;
      List<String> outputs = List.of();
      int seen = 0;
      JsonToken token;
      while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
        int field = REQUEST_FIELDS.indexOf(p.currentName());
        if (field < 0 || (seen & (1 << field)) != 0) {
          return null;
        }
        seen |= 1 << field;
        JsonToken value = p.nextToken();
        if (field == 0 || field == 1) {
          if (value != JsonToken.VALUE_STRING) {
            return null;
          }
          String text = p.getText();
          if (field == 0) {
            id = text;
          } else if (!text.equals(model) && !text.equals(pathName)) {
            return null;
          }
        } else if (field == 2) {
          if (value != JsonToken.START_OBJECT || !parameters(p, "binary_data_output")) {
            return null;
          }
        } else if (field == 3) {
          if ((inputs = inputs(p, body, length)) == null) {
            return null;
          }
        } else {
          List<String> wanted = outputs(p);
          if (wanted == null) {
            return null;
          }
          outputs = wanted;
        }
      }
      if (token != JsonToken.END_OBJECT || p.nextToken() != null || inputs == null) {
        return null;
      }
      return new Request(id, inputs, outputs);
    } catch (IOException | RuntimeException e) {
      return null; // not JSON, or past the parser's limits: the tree path says so
    }
  }

  /**
   * The object at the parser's current token, its values skipped; false when it has {@code flag}
   * (which the tree path acts on).
   */
  private static boolean parameters(JsonParser p, String flag) throws IOException {
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      if (p.currentName().equals(flag)) {
        return false;
      }
      p.nextToken();
      p.skipChildren();
    }
    return true;
  }

  /** {@code inputs}: a non-empty list of inputs with distinct names. */
  private static @Nullable List<Input> inputs(JsonParser p, byte[] body, int length)
      throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      return null;
    }
    List<Input> inputs = new ArrayList<>(2);
    while (p.nextToken() == JsonToken.START_OBJECT) {
      Input input = input(p, body, length);
      if (input == null) {
        return null;
      }
      for (Input other : inputs) {
        if (other.name().equals(input.name())) {
          return null;
        }
      }
      inputs.add(input);
    }
    return p.currentToken() == JsonToken.END_ARRAY && !inputs.isEmpty() ? inputs : null;
  }

  /** One input object, from its {@code START_OBJECT} to its {@code END_OBJECT}. */
  private static @Nullable Input input(JsonParser p, byte[] body, int length) throws IOException {
    String name = null;
    String dtype = null;
    long[] shape = null;
    TensorStream.Values values = null;
    long objectAt = p.currentTokenLocation().getByteOffset();
    boolean early = false; // data came before the datatype
    int seen = 0;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      int field = INPUT_FIELDS.indexOf(p.currentName());
      if (field < 0 || (seen & (1 << field)) != 0) {
        return null;
      }
      seen |= 1 << field;
      JsonToken value = p.nextToken();
      if (field == 0 || field == 2) {
        if (value != JsonToken.VALUE_STRING) {
          return null;
        }
        if (field == 0) {
          name = p.getText();
        } else if ((dtype = dtype(p.getText())) == null) {
          return null;
        }
      } else if (field == 1) {
        if ((shape = shape(p)) == null) {
          return null;
        }
      } else if (field == 3) {
        if (value == JsonToken.START_OBJECT && !parameters(p, "binary_data_size")) {
          return null;
        }
        p.skipChildren();
      } else if (dtype != null) {
        long at = p.currentTokenLocation().getByteOffset();
        if ((values = data(p, dtype, capacity(shape, length - at))) == null) {
          return null;
        }
      } else {
        early = true;
        p.skipChildren();
      }
    }
    if (name == null || dtype == null || shape == null || (seen & (1 << 4)) == 0) {
      return null;
    }
    if (early) {
      values = again(body, (int) objectAt, length, dtype, shape);
    }
    long count = count(shape);
    if (values == null || count < 0 || values.size() != count) {
      return null;
    }
    return new Input(name, values.toTensor(shape));
  }

  /**
   * The data of the input object at {@code at} in {@code body}, read again now that its datatype is
   * known (a bare number cannot be read on its own: the parser wants a space after a root value).
   */
  private static TensorStream.@Nullable Values again(
      byte[] body, int at, int length, String dtype, long[] shape) throws IOException {
    try (JsonParser p = JSON.createParser(body, at, length - at)) {
      p.nextToken();
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        boolean data = p.currentName().equals("data");
        p.nextToken();
        if (data) {
          return data(p, dtype, capacity(shape, length - at));
        }
        p.skipChildren();
      }
      return null;
    }
  }

  /** Our dtype for a datatype the tensor task takes; null for any other. */
  private static @Nullable String dtype(String datatype) {
    return switch (datatype) {
      case "FP32" -> "float32";
      case "FP64" -> "float64";
      case "INT32" -> "int32";
      case "INT64" -> "int64";
      case "BOOL" -> "bool";
      default -> null;
    };
  }

  /** {@code shape}: a list of at most {@link TensorCodec#MAX_RANK} whole numbers >= 0. */
  private static long @Nullable [] shape(JsonParser p) throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      return null;
    }
    long[] dims = new long[TensorCodec.MAX_RANK];
    int rank = 0;
    JsonToken token;
    while ((token = p.nextToken()) == JsonToken.VALUE_NUMBER_INT) {
      if (rank == dims.length || !TensorStream.Values.isLong(p) || p.getLongValue() < 0) {
        return null;
      }
      dims[rank++] = p.getLongValue();
    }
    return token == JsonToken.END_ARRAY ? Arrays.copyOf(dims, rank) : null;
  }

  /** The number of values of {@code shape}; -1 past an array's reach. */
  private static long count(long[] shape) {
    long count = 1;
    for (long dim : shape) {
      if (dim != 0 && count > Integer.MAX_VALUE / dim) {
        return -1;
      }
      count *= dim;
    }
    return count;
  }

  /**
   * The values to make room for: as many as the shape needs, but no more than {@code bytes} of JSON
   * can hold (a shape is the client's word, not an allocation it may ask for).
   */
  private static int capacity(long @Nullable [] shape, long bytes) {
    long count = shape == null ? -1 : count(shape);
    return count < 0 ? 0 : (int) Math.min(count, bytes / 2 + 1);
  }

  /**
   * The value at the parser's current token, one value or arrays nested in any way, its values in
   * row-major order; null when one does not fit {@code dtype}.
   */
  private static TensorStream.@Nullable Values data(JsonParser p, String dtype, int capacity)
      throws IOException {
    TensorStream.Values values = new TensorStream.Values(dtype, capacity);
    int depth = 0;
    JsonToken token = p.currentToken();
    do {
      if (token == JsonToken.START_ARRAY) {
        depth++;
      } else if (token == JsonToken.END_ARRAY) {
        depth--;
      } else if (!values.add(p, token)) {
        return null;
      }
    } while (depth > 0 && (token = p.nextToken()) != null);
    return depth == 0 ? values : null;
  }

  /** {@code outputs}: a list of {@code {"name", "parameters"?, ...}}; null for anything else. */
  private static @Nullable List<String> outputs(JsonParser p) throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      return null;
    }
    List<String> names = new ArrayList<>(2);
    while (p.nextToken() == JsonToken.START_OBJECT) {
      String name = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        if (field.equals("name")) {
          if (name != null || value != JsonToken.VALUE_STRING) {
            return null;
          }
          name = p.getText();
        } else if (field.equals("parameters") && value == JsonToken.START_OBJECT) {
          if (!parameters(p, "binary_data")) {
            return null;
          }
        } else {
          p.skipChildren();
        }
      }
      if (name == null) {
        return null;
      }
      names.add(name);
    }
    return p.currentToken() == JsonToken.END_ARRAY ? names : null;
  }
}
