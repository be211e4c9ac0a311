package dev.modelcache.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.V2Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Triton's binary tensor data extension of the Open Inference Protocol's REST {@code infer}
 * (Triton's {@code extension_binary_data.md}; KServe documents the same): a request body may be a
 * JSON header of {@code Inference-Header-Content-Length} bytes followed by the raw data of the
 * inputs that carry {@code parameters.binary_data_size}, in their order; outputs asked for with
 * {@code parameters.binary_data: true} (or all of them, with the request's {@code
 * parameters.binary_data_output: true}) come back the same way, as {@code application/octet-stream}
 * ({@link V2BinaryOutputs}). Raw data is row-major and little-endian, a BOOL one byte (0 or 1), a
 * BYTES element a 4-byte little-endian length and its bytes.
 *
 * <p>Binary inputs become the JSON data {@link V2Json} reads, after every size was checked against
 * the body: nothing is allocated for a length the body does not hold.
 *
 * <pre>{@code
 * int length = V2Binary.headerLength(ctx.header(V2Binary.HEADER), body.length);
 * JsonNode request = V2Binary.inlineInputs(header, body, length, true);
 * // a header of 0: V2Binary.rawRequest(model, metadata.inputs(), body)
 * }</pre>
 */
final class V2Binary {
  static final String HEADER = "Inference-Header-Content-Length";
  static final String CONTENT_TYPE = "application/octet-stream";
  static final String EXTENSION = "binary_tensor_data";
  private static final Pattern LENGTH = Pattern.compile("[0-9]{1,10}");
  private static final String DATATYPES = "FP32, FP64, INT32, INT64, BOOL or BYTES";

  private V2Binary() {}

  /**
   * The JSON header's length from the {@code Inference-Header-Content-Length} value: a whole number
   * from 0 (a raw binary request, see {@link #rawRequest}) to the body's length, or a 400 saying
   * what is wrong with it.
   */
  static int headerLength(String value, int bodyLength) {
    String text = value.strip();
    if (!LENGTH.matcher(text).matches()) {
      throw new HttpError(
          400,
          HEADER
              + " is '"
              + abbreviate(text)
              + "'; it must be the length in bytes of the JSON header at the start of the body, a"
              + " whole number");
    }
    long length = Long.parseLong(text);
    if (length > bodyLength) {
      throw new HttpError(
          400,
          HEADER
              + " is "
              + length
              + " but the body has only "
              + bodyLength
              + " bytes; it must be the length of the JSON header at the start of the body");
    }
    return (int) length;
  }

  /**
   * Triton's raw binary request ({@code Inference-Header-Content-Length: 0}): the whole body is the
   * data of the model's only input, its shape deduced from the model's metadata (batch 1, at most
   * one other variable dimension; a BYTES input is one element, its bytes without a length), and
   * every output comes back as binary data.
   */
  static ObjectNode rawRequest(String model, List<V2Tensor.Spec> inputs, byte[] body) {
    if (inputs.size() != 1) {
      throw new InvalidInputException(
          "a raw binary request ("
              + HEADER
              + ": 0, the body only the data of one input) is for models with one declared input;"
              + " model "
              + model
              + " has "
              + inputs.size()
              + ": send the JSON inference request first, its inputs with"
              + " parameters.binary_data_size, and its length in "
              + HEADER);
    }
    V2Tensor.Spec spec = inputs.get(0);
    String label = "input '" + spec.name() + "' of model " + model;
    long[] shape = spec.shape().clone();
    if (shape.length > 0 && shape[0] == -1) {
      shape[0] = 1; // the batch dimension: a raw request is one item
    }
    ObjectNode request = JsonNodeFactory.instance.objectNode();
    request.putObject("parameters").put("binary_data_output", true);
    ObjectNode input = request.putArray("inputs").addObject();
    input.put("name", spec.name()).put("datatype", spec.datatype());
    if (spec.datatype().equals("BYTES")) {
      if (!Arrays.equals(shape, new long[] {1})) {
        throw new InvalidInputException(
            label + " has shape " + Arrays.toString(spec.shape()) + "; raw BYTES data is one item");
      }
      input.putArray("data").add(text(wrap(body, 0, body.length), 0, label));
    } else {
      deduce(shape, body.length, width(spec.datatype(), label), label);
      input.set("data", decode(wrap(body, 0, body.length), spec.datatype(), shape, label));
    }
    ArrayNode dims = input.putArray("shape");
    Arrays.stream(shape).forEach(dims::add);
    return request;
  }

  /** Fills the one variable dimension of {@code shape} (if any) from the data's size. */
  private static void deduce(long[] shape, int size, int width, String label) {
    int variable = -1;
    long known = width; // capped past the size: then nothing fits, and decode says so
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 0) {
        if (variable >= 0) {
          throw new InvalidInputException(
              label + " has more than one variable dimension; send it with a JSON header");
        }
        variable = i;
      } else {
        known = Math.min(known * Math.min(shape[i], size + 1L), size + 1L);
      }
    }
    if (variable >= 0) {
      shape[variable] = known == 0 ? 0 : size / known;
    }
  }

  private static ByteBuffer wrap(byte[] body, int at, int length) {
    return ByteBuffer.wrap(body, at, length).slice().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Rejects a binary body's Content-Type other than none, octet-stream or JSON (415). */
  static void checkContentType(String type) {
    if (type == null) {
      return;
    }
    String lower = type.toLowerCase(Locale.ROOT);
    if (!lower.startsWith(CONTENT_TYPE) && !lower.contains("json")) {
      throw new HttpError(
          415,
          "Content-Type is '"
              + abbreviate(type)
              + "'; a body with binary tensor data ("
              + HEADER
              + ") is application/octet-stream");
    }
  }

  /**
   * Puts the binary data that follows the JSON header in {@code body[from..]} into the request's
   * inputs as their {@code data}, in the order of the inputs that have {@code
   * parameters.binary_data_size}; the sizes must add up to exactly the rest of the body.
   *
   * @param headerGiven false for a plain JSON body (then no input may have binary data)
   */
  static JsonNode inlineInputs(JsonNode request, byte[] body, int from, boolean headerGiven) {
    int at = from;
    JsonNode inputs = request.path("inputs");
    for (int i = 0; inputs.isArray() && i < inputs.size(); i++) {
      JsonNode input = inputs.get(i);
      JsonNode size = input.path("parameters").path("binary_data_size");
      if (!size.isMissingNode()) {
        at = inline((ObjectNode) input, size, body, at, "inputs[" + i + "]", headerGiven);
      }
    }
    if (at != body.length) {
      throw new InvalidInputException(
          (body.length - at)
              + " bytes follow the inputs' binary data: their parameters.binary_data_size add up"
              + " to "
              + (at - from)
              + " bytes, but the body has "
              + (body.length - from)
              + " bytes after its "
              + from
              + "-byte JSON header ("
              + HEADER
              + ")");
    }
    return request;
  }

  private static int inline(
      ObjectNode input, JsonNode size, byte[] body, int at, String where, boolean headerGiven) {
    String label =
        input.path("name").isTextual() ? "input '" + input.get("name").asText() + "'" : where;
    if (!size.isIntegralNumber() || !size.canConvertToLong() || size.longValue() < 0) {
      throw new InvalidInputException(
          label
              + " has parameters.binary_data_size "
              + abbreviate(size.toString())
              + "; it must be a whole number of bytes >= 0");
    }
    if (input.has("data")) {
      throw new InvalidInputException(
          label
              + " has both 'data' and parameters.binary_data_size; send its values once, in"
              + " 'data' or as binary data after the JSON header");
    }
    long bytes = size.longValue();
    int left = body.length - at;
    if (bytes > left) {
      throw new InvalidInputException(
          label
              + " has parameters.binary_data_size "
              + bytes
              + " but only "
              + left
              + " bytes of binary data are left in the body"
              + (headerGiven
                  ? ""
                  : "; binary data follows a JSON header whose length in bytes is sent in the "
                      + HEADER
                      + " header"));
    }
    if (!input.path("datatype").isTextual()) {
      throw new InvalidInputException(label + " needs 'datatype' (a string)");
    }
    String datatype = input.get("datatype").asText();
    long[] shape = V2Json.shape(input.path("shape"), label);
    input.set("data", decode(wrap(body, at, (int) bytes), datatype, shape, label));
    ((ObjectNode) input.get("parameters")).remove("binary_data_size");
    return at + (int) bytes;
  }

  private static ArrayNode decode(ByteBuffer data, String datatype, long[] shape, String label) {
    long count = V2Json.count(shape, label);
    if (datatype.equals("BYTES")) {
      return strings(data, count, label);
    }
    int width = width(datatype, label);
    int size = data.remaining();
    if (count > size || count * width != size) {
      throw new InvalidInputException(
          label
              + " has "
              + size
              + " bytes of binary data but its shape "
              + Arrays.toString(shape)
              + " of "
              + datatype
              + " needs "
              + count
              + " x "
              + width
              + " bytes"
              + (count <= Integer.MAX_VALUE ? " = " + count * width : ""));
    }
    ArrayNode out = JsonNodeFactory.instance.arrayNode((int) count);
    for (int k = 0; k < count; k++) {
      switch (datatype) {
        case "FP32" -> out.add(data.getFloat());
        case "FP64" -> out.add(data.getDouble());
        case "INT32" -> out.add(data.getInt());
        case "INT64" -> out.add(data.getLong());
        default -> out.add(bool(data.get(), k, label));
      }
    }
    return out;
  }

  private static boolean bool(byte value, int k, String label) {
    if (value != 0 && value != 1) {
      throw new InvalidInputException(
          label + " element " + k + " is the byte " + value + "; a BOOL is one byte, 0 or 1");
    }
    return value == 1;
  }

  /** BYTES elements: each a 4-byte little-endian length and that many bytes of UTF-8 text. */
  private static ArrayNode strings(ByteBuffer data, long count, String label) {
    ArrayNode out = JsonNodeFactory.instance.arrayNode((int) Math.min(count, data.remaining() / 4));
    for (long k = 0; k < count; k++) {
      if (data.remaining() < 4) {
        throw new InvalidInputException(
            label
                + " has "
                + count
                + " BYTES elements but its binary_data_size ends before element "
                + k
                + "'s 4-byte length");
      }
      long length = data.getInt() & 0xFFFF_FFFFL;
      if (length > data.remaining()) {
        throw new InvalidInputException(
            label
                + " BYTES element "
                + k
                + " has the length "
                + length
                + " but only "
                + data.remaining()
                + " bytes of its binary_data_size are left");
      }
      out.add(text(data.slice().limit((int) length), k, label));
      data.position(data.position() + (int) length);
    }
    if (data.hasRemaining()) {
      throw new InvalidInputException(
          label
              + " has "
              + data.remaining()
              + " bytes after its "
              + count
              + " BYTES elements; its binary_data_size must be exactly their lengths and bytes");
    }
    return out;
  }

  private static String text(ByteBuffer element, long k, String label) {
    try {
      return StandardCharsets.UTF_8.newDecoder().decode(element).toString();
    } catch (CharacterCodingException e) {
      throw new InvalidInputException(
          label + " BYTES element " + k + " is not UTF-8 text (images are sent base64)");
    }
  }

  static int width(String datatype, String label) {
    return switch (datatype) {
      case "BOOL" -> 1;
      case "FP32", "INT32" -> 4;
      case "FP64", "INT64" -> 8;
      default ->
          throw new InvalidInputException(
              label
                  + " has datatype '"
                  + abbreviate(datatype)
                  + "'; the models here take "
                  + DATATYPES);
    };
  }

  /** A client's value as put in a message: at most 80 characters of it. */
  static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 80) + "...";
  }
}
