package dev.modelcache.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.InvalidInputException;
import java.io.ByteArrayOutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The answer side of Triton's binary tensor data extension ({@link V2Binary}): which outputs a
 * request wants as binary data, and the answer that carries them after its JSON.
 *
 * <pre>{@code
 * V2BinaryOutputs.Wanted wanted = V2BinaryOutputs.of(request);
 * List<byte[]> parts = V2BinaryOutputs.answer(json, response, wanted); // empty: plain JSON
 * }</pre>
 */
final class V2BinaryOutputs {
  private V2BinaryOutputs() {}

  /**
   * Which outputs a request wants as binary data: those with {@code parameters.binary_data: true},
   * and when its {@code parameters.binary_data_output} is true every output without {@code
   * binary_data: false}.
   */
  record Wanted(boolean all, Map<String, Boolean> byName) {
    boolean binary(String name) {
      return byName.getOrDefault(name, all);
    }
  }

  static Wanted of(JsonNode request) {
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
    return new Wanted(all, byName);
  }

  private static boolean flag(JsonNode node, String name) {
    if (node.isMissingNode()) {
      return false;
    }
    if (!node.isBoolean()) {
      throw new InvalidInputException(
          name + " is " + V2Binary.abbreviate(node.toString()) + "; it must be true or false");
    }
    return node.booleanValue();
  }

  /**
   * The binary answer for an inference {@code response} (changed in place): the JSON header first,
   * then the data of each output asked for as binary, which carries {@code
   * parameters.binary_data_size} in place of {@code data}; empty when no output is binary (then the
   * answer is the plain JSON).
   */
  static List<byte[]> answer(ObjectMapper json, ObjectNode response, Wanted wanted) {
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
    int width = V2Binary.width(datatype, "output");
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
}
