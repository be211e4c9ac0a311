package dev.modelcache.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.InvalidInputException;
import java.io.ByteArrayOutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Triton's binary tensor data extension of the Open Inference Protocol's REST {@code infer}
 * (Triton's {@code extension_binary_data.md}; KServe documents the same): a request body may be a
 * JSON header of {@code Inference-Header-Content-Length} bytes followed by the raw data of the
 * inputs that carry {@code parameters.binary_data_size}, in their order; outputs asked for with
 * {@code parameters.binary_data: true} (or all of them, with the request's {@code
 * parameters.binary_data_output: true}) come back the same way, as {@code
 * application/octet-stream}. Raw data is row-major and little-endian, a BOOL one byte (0 or 1), a
 * BYTES element a 4-byte little-endian length and its bytes.
 *
 * <p>Binary inputs become the JSON data {@link V2Json} reads, after every size was checked against
 * the body: nothing is allocated for a length the body does not hold.
 *
 * <pre>{@code
 * int length = V2Binary.headerLength(ctx.header(V2Binary.HEADER), body.length);
 * JsonNode request = V2Binary.inlineInputs(header, body, length, true);
 * List<byte[]> answer = V2Binary.answer(json, response, V2Binary.outputs(request));
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
   * from 1 to the body's length, or a 400 saying what is wrong with it.
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
    if (length == 0) {
      throw new HttpError(
          400,
          HEADER
              + " is 0, a raw binary request without a JSON header, which this server does not"
              + " take; send the JSON inference request first, its inputs with"
              + " parameters.binary_data_size, and its length in "
              + HEADER);
    }
    return (int) length;
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
    ByteBuffer data = ByteBuffer.wrap(body, at, (int) bytes).slice().order(ByteOrder.LITTLE_ENDIAN);
    input.set("data", decode(data, datatype, shape, label));
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
              + " has parameters.binary_data_size "
              + size
              + " but its shape "
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
    var utf8 = StandardCharsets.UTF_8.newDecoder();
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
      ByteBuffer element = data.slice().limit((int) length);
      try {
        out.add(utf8.decode(element).toString());
      } catch (CharacterCodingException e) {
        throw new InvalidInputException(
            label + " BYTES element " + k + " is not UTF-8 text (images are sent base64)");
      }
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

  private static int width(String datatype, String label) {
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

  /**
   * Which outputs a request wants as binary data: those with {@code parameters.binary_data: true},
   * and when its {@code parameters.binary_data_output} is true every output without {@code
   * binary_data: false}.
   */
  record Outputs(boolean all, Map<String, Boolean> byName) {
    boolean binary(String name) {
      return byName.getOrDefault(name, all);
    }
  }

  static Outputs outputs(JsonNode request) {
    boolean all =
        flag(
            request.path("parameters").path("binary_data_output"), "parameters.binary_data_output");
    Map<String, Boolean> byName = new HashMap<>();
    JsonNode outputs = request.path("outputs");
    for (int i = 0; outputs.isArray() && i < outputs.size(); i++) {
      JsonNode binary = outputs.get(i).path("parameters").path("binary_data");
      if (!binary.isMissingNode()) {
        byName.put(
            outputs.get(i).path("name").asText(),
            flag(binary, "outputs[" + i + "].parameters.binary_data"));
      }
    }
    return new Outputs(all, byName);
  }

  private static boolean flag(JsonNode node, String name) {
    if (node.isMissingNode()) {
      return false;
    }
    if (!node.isBoolean()) {
      throw new InvalidInputException(
          name + " is " + abbreviate(node.toString()) + "; it must be true or false");
    }
    return node.booleanValue();
  }

  /**
   * The binary answer for an inference {@code response} (changed in place): the JSON header first,
   * then the data of each output asked for as binary, which carries {@code
   * parameters.binary_data_size} in place of {@code data}; empty when no output is binary (then the
   * answer is the plain JSON).
   */
  static List<byte[]> answer(ObjectMapper json, ObjectNode response, Outputs wanted) {
    List<byte[]> parts = new ArrayList<>();
    parts.add(new byte[0]);
    for (JsonNode node : response.path("outputs")) {
      ObjectNode output = (ObjectNode) node;
      if (wanted.binary(output.path("name").asText())) {
        byte[] data = encode(output.path("datatype").asText(), output.path("data"));
        output.remove("data");
        output.putObject("parameters").put("binary_data_size", data.length);
        parts.add(data);
      }
    }
    if (parts.size() == 1) {
      return List.of();
    }
    try {
      parts.set(0, json.writeValueAsBytes(response));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
    return parts;
  }

  private static byte[] encode(String datatype, JsonNode data) {
    if (datatype.equals("BYTES")) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteBuffer length = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      for (JsonNode value : data) {
        byte[] bytes = value.asText().getBytes(StandardCharsets.UTF_8);
        out.writeBytes(length.putInt(0, bytes.length).array());
        out.writeBytes(bytes);
      }
      return out.toByteArray();
    }
    int width = width(datatype, "output");
    ByteBuffer out = ByteBuffer.allocate(data.size() * width).order(ByteOrder.LITTLE_ENDIAN);
    for (JsonNode value : data) {
      switch (datatype) {
        case "FP32" -> out.putFloat(value.floatValue());
        case "FP64" -> out.putDouble(value.doubleValue());
        case "INT32" -> out.putInt(value.intValue());
        case "INT64" -> out.putLong(value.longValue());
        default -> out.put((byte) (value.booleanValue() ? 1 : 0));
      }
    }
    return out.array();
  }

  /** A client's value as put in a message: at most 80 characters of it. */
  static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 80) + "...";
  }
}
