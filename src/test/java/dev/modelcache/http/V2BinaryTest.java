package dev.modelcache.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.InvalidInputException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class V2BinaryTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The JSON header, then {@code data}; the header's length is where the data starts. */
  private static byte[] body(String header, byte[]... data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(header.getBytes(StandardCharsets.UTF_8));
    for (byte[] d : data) {
      out.writeBytes(d);
    }
    return out.toByteArray();
  }

  private static JsonNode inline(String header, byte[]... data) throws Exception {
    byte[] body = body(header, data);
    int length = header.getBytes(StandardCharsets.UTF_8).length;
    return V2Binary.inlineInputs(JSON.readTree(header), body, length, true);
  }

  private static byte[] le(int... ints) {
    ByteBuffer out = ByteBuffer.allocate(ints.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i : ints) {
      out.putInt(i);
    }
    return out.array();
  }

  @Test
  void binaryAndJsonInputsMixInTheirOrderAndEmptyTensorsTakeNoBytes() throws Exception {
    JsonNode request =
        inline(
            "{\"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2], \"datatype\": \"INT32\","
                + " \"parameters\": {\"binary_data_size\": 8}},"
                + "{\"name\": \"b\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1.5]},"
                + "{\"name\": \"c\", \"shape\": [0], \"datatype\": \"FP64\","
                + " \"parameters\": {\"binary_data_size\": 0}},"
                + "{\"name\": \"d\", \"shape\": [2], \"datatype\": \"BYTES\","
                + " \"parameters\": {\"binary_data_size\": 11}}]}",
            le(-7, 65536),
            le(3),
            "hé".getBytes(StandardCharsets.UTF_8),
            le(0));

    assertThat(request.get("inputs").findValues("data").toString())
        .isEqualTo("[[-7,65536], [1.5], [], [\"hé\",\"\"]]");
    assertThat(request.get("inputs").get(0).get("parameters").has("binary_data_size")).isFalse();
    assertThat(V2Json.parseRequest(request).inputs()).hasSize(4);
  }

  @Test
  void bytesElementsMustFillTheirTensorExactly() {
    String header =
        "{\"inputs\": [{\"name\": \"t\", \"shape\": [2], \"datatype\": \"BYTES\","
            + " \"parameters\": {\"binary_data_size\": 7}}]}";
    assertThatThrownBy(() -> inline(header, le(1), new byte[] {'x', 0, 0}))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage(
            "input 't' has 2 BYTES elements but its binary_data_size ends before element 1's"
                + " 4-byte length");
    String one = header.replace("[2]", "[1]");
    assertThatThrownBy(() -> inline(one, le(1), new byte[] {'x', 0, 0}))
        .hasMessage(
            "input 't' has 2 bytes after its 1 BYTES elements; its binary_data_size must be"
                + " exactly their lengths and bytes");
  }

  @Test
  void outputsAreBinaryAsTheRequestAndEachOutputSay() throws Exception {
    V2BinaryOutputs.Wanted wanted =
        V2BinaryOutputs.of(
            JSON.readTree(
                "{\"parameters\": {\"binary_data_output\": true}, \"outputs\": ["
                    + "{\"name\": \"x\", \"parameters\": {\"binary_data\": false}}, {\"name\":"
                    + " \"y\"}]}"));
    assertThat(wanted.binary("x")).isFalse();
    assertThat(wanted.binary("y")).isTrue();
    assertThat(V2BinaryOutputs.of(JSON.readTree("{}")).binary("y")).isFalse();
    assertThatThrownBy(
            () ->
                V2BinaryOutputs.of(
                    JSON.readTree(
                        "{\"outputs\": [{\"name\": \"x\", \"parameters\": {\"binary_data\": 1}}]}")))
        .hasMessage("outputs[0].parameters.binary_data is 1; it must be true or false");
  }

  @Test
  void theAnswerIsTheJsonHeaderThenEachBinaryOutputsBytes() throws Exception {
    ObjectNode response =
        (ObjectNode)
            JSON.readTree(
                "{\"model_name\": \"m\", \"outputs\": ["
                    + "{\"name\": \"s\", \"datatype\": \"BYTES\", \"shape\": [2], \"data\":"
                    + " [\"ok\", \"\"]},"
                    + "{\"name\": \"f\", \"datatype\": \"FP32\", \"shape\": [1], \"data\": [0.5]},"
                    + "{\"name\": \"b\", \"datatype\": \"BOOL\", \"shape\": [2], \"data\":"
                    + " [true, false]}]}");
    V2BinaryOutputs.Wanted wanted =
        V2BinaryOutputs.of(
            JSON.readTree(
                "{\"outputs\": [{\"name\": \"s\", \"parameters\": {\"binary_data\": true}},"
                    + " {\"name\": \"f\"}, {\"name\": \"b\", \"parameters\": {\"binary_data\":"
                    + " true}}]}"));

    List<byte[]> parts = V2BinaryOutputs.answer(JSON, response, wanted);

    assertThat(new String(parts.get(0), StandardCharsets.UTF_8))
        .isEqualTo(
            "{\"model_name\":\"m\",\"outputs\":["
                + "{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[2],"
                + "\"parameters\":{\"binary_data_size\":10}},"
                + "{\"name\":\"f\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5]},"
                + "{\"name\":\"b\",\"datatype\":\"BOOL\",\"shape\":[2],"
                + "\"parameters\":{\"binary_data_size\":2}}]}");
    assertThat(parts.get(1)).isEqualTo(new byte[] {2, 0, 0, 0, 'o', 'k', 0, 0, 0, 0});
    assertThat(parts.get(2)).isEqualTo(new byte[] {1, 0});
    assertThat(parts).hasSize(3);
  }

  @Test
  void headerLengthsAreWholeNumbersWithinTheBody() {
    assertThat(V2Binary.headerLength(" 12 ", 20)).isEqualTo(12);
    assertThat(V2Binary.headerLength("0", 20)).isZero();
    assertThat(V2Binary.headerLength("20", 20)).isEqualTo(20);
    for (String bad : new String[] {"", "+1", "1.5", "0x10", "12345678901"}) {
      assertThatThrownBy(() -> V2Binary.headerLength(bad, 20))
          .as(bad)
          .isInstanceOf(HttpError.class)
          .hasMessageContaining("whole number");
    }
  }
}
