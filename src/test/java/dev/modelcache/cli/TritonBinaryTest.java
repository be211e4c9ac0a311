package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Triton's binary tensor data extension on {@code /v2/models/{m}/infer}, with requests built by
 * hand from Triton's {@code extension_binary_data.md}: a JSON header of {@code
 * Inference-Header-Content-Length} bytes, then each binary input's raw data (little-endian,
 * row-major; BYTES as 4-byte length + bytes), answered with the numbers of the plain JSON request,
 * as binary or JSON outputs as asked.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TritonBinaryTest {
  static final ObjectMapper MAPPER = new ObjectMapper();
  private static final MediaType JSON = MediaType.get("application/json");
  private static final MediaType OCTETS = MediaType.get("application/octet-stream");
  private static final String HEADER = "Inference-Header-Content-Length";
  private static final String[][] DTYPES = {
    {"f32", "FP32"}, {"f64", "FP64"}, {"i32", "INT32"}, {"i64", "INT64"}, {"b", "BOOL"}
  };

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;

  @BeforeAll
  void start() throws Exception {
    Path sources = tmp.resolve("sources");
    Config config =
        TestModels.config(
            tmp.resolve("cache"),
            TestModels.modelYaml("iris", TestModels.copy("iris", sources))
                + TestModels.modelYaml("dtypes", TestModels.copy("dtypes", sources))
                + "  - {name: sentiment, source: 'file:"
                + TestModels.copy("sentiment", sources)
                + "', task: text-classification, task_options: {top_k: 0}}\n");
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
    http = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
    base = "http://127.0.0.1:" + daemon.port();
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  /** An answer: its JSON header, and its binary outputs' data decoded into that JSON. */
  record Answer(int code, String contentType, String headerLength, long length, JsonNode json) {}

  Answer postJson(String path, String body) throws IOException {
    return send(new Request.Builder().url(base + path).post(RequestBody.create(body, JSON)));
  }

  Answer postBinary(String path, JsonNode header, byte[]... tensors) throws IOException {
    byte[] json = MAPPER.writeValueAsBytes(header);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.writeBytes(json);
    for (byte[] tensor : tensors) {
      body.writeBytes(tensor);
    }
    return postRaw(path, Integer.toString(json.length), body.toByteArray());
  }

  Answer postRaw(String path, String headerLength, byte[] body) throws IOException {
    return send(
        new Request.Builder()
            .url(base + path)
            .header(HEADER, headerLength)
            .post(RequestBody.create(body, OCTETS)));
  }

  private Answer send(Request.Builder request) throws IOException {
    try (Response response = http.newCall(request.build()).execute()) {
      byte[] body = response.body().bytes();
      String headerLength = response.header(HEADER);
      int jsonLength = headerLength == null ? body.length : Integer.parseInt(headerLength);
      JsonNode json = MAPPER.readTree(new String(body, 0, jsonLength, StandardCharsets.UTF_8));
      ByteBuffer rest = ByteBuffer.wrap(body, jsonLength, body.length - jsonLength).slice();
      for (JsonNode output : json.path("outputs")) {
        JsonNode size = output.path("parameters").path("binary_data_size");
        if (size.isInt()) {
          ByteBuffer data = rest.slice().limit(size.asInt()).order(ByteOrder.LITTLE_ENDIAN);
          ((ObjectNode) output).set("data", decode(output.get("datatype").asText(), data));
          rest.position(rest.position() + size.asInt());
        }
      }
      assertThat(rest.hasRemaining()).as("bytes after the binary outputs").isFalse();
      return new Answer(
          response.code(),
          response.header("Content-Type"),
          headerLength,
          Long.parseLong(response.header("Content-Length", "-1")),
          json);
    }
  }

  /** Raw tensor data as the extension lays it out. */
  static byte[] encode(String datatype, JsonNode values) {
    int capacity = 0;
    for (JsonNode v : values) {
      capacity += 8 + (v.isTextual() ? 4 + v.asText().getBytes(StandardCharsets.UTF_8).length : 0);
    }
    ByteBuffer out = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    for (JsonNode v : values) {
      switch (datatype) {
        case "FP32" -> out.putFloat(v.floatValue());
        case "FP64" -> out.putDouble(v.doubleValue());
        case "INT32" -> out.putInt(v.intValue());
        case "INT64" -> out.putLong(v.longValue());
        case "BOOL" -> out.put((byte) (v.booleanValue() ? 1 : 0));
        default -> {
          byte[] text = v.asText().getBytes(StandardCharsets.UTF_8);
          out.putInt(text.length).put(text);
        }
      }
    }
    byte[] bytes = new byte[out.position()];
    out.flip().get(bytes);
    return bytes;
  }

  static ArrayNode decode(String datatype, ByteBuffer data) {
    ArrayNode values = MAPPER.createArrayNode();
    while (data.hasRemaining()) {
      switch (datatype) {
        case "FP32" -> values.add(data.getFloat());
        case "FP64" -> values.add(data.getDouble());
        case "INT32" -> values.add(data.getInt());
        case "INT64" -> values.add(data.getLong());
        case "BOOL" -> values.add(data.get() == 1);
        default -> {
          byte[] text = new byte[data.getInt()];
          data.get(text);
          values.add(new String(text, StandardCharsets.UTF_8));
        }
      }
    }
    return values;
  }

  /** The dtypes model's reference inputs as a JSON request with inline data. */
  static ObjectNode dtypesJsonRequest() {
    JsonNode reference = TestModels.reference("dtypes").get("inputs");
    ObjectNode request = MAPPER.createObjectNode();
    ArrayNode inputs = request.putArray("inputs");
    for (String[] input : DTYPES) {
      ObjectNode tensor = inputs.addObject();
      tensor.put("name", input[0]).put("datatype", input[1]);
      tensor.putArray("shape").add(2).add(2);
      ArrayNode flat = tensor.putArray("data");
      reference.get(input[0]).forEach(row -> row.forEach(flat::add));
    }
    return request;
  }

  /** The same request with every input's data moved behind the JSON header. */
  static List<byte[]> moveDataToBinary(ObjectNode request) {
    List<byte[]> tensors = new ArrayList<>();
    for (JsonNode node : request.get("inputs")) {
      ObjectNode input = (ObjectNode) node;
      byte[] raw = encode(input.get("datatype").asText(), input.remove("data"));
      input.putObject("parameters").put("binary_data_size", raw.length);
      tensors.add(raw);
    }
    return tensors;
  }

  static void assertSameNumbers(JsonNode actual, JsonNode expected) {
    assertThat(actual.get("outputs").findValuesAsText("name"))
        .isEqualTo(expected.get("outputs").findValuesAsText("name"));
    for (int i = 0; i < expected.get("outputs").size(); i++) {
      JsonNode want = expected.get("outputs").get(i);
      JsonNode got = actual.get("outputs").get(i);
      assertThat(got.get("shape")).isEqualTo(want.get("shape"));
      assertThat(got.get("datatype")).isEqualTo(want.get("datatype"));
      assertThat(got.get("data").size()).isEqualTo(want.get("data").size());
      for (int k = 0; k < want.get("data").size(); k++) {
        JsonNode w = want.get("data").get(k);
        JsonNode g = got.get("data").get(k);
        if (want.get("datatype").asText().equals("FP32")) { // JSON writes the float's digits
          assertThat(g.floatValue()).as("%s[%s]", want.get("name"), k).isEqualTo(w.floatValue());
        } else if (w.isNumber()) {
          assertThat(g.decimalValue())
              .as("%s[%s]", want.get("name"), k)
              .isEqualByComparingTo(w.decimalValue());
        } else {
          assertThat(g).as("%s[%s]", want.get("name"), k).isEqualTo(w);
        }
      }
    }
  }

  @Test
  void binaryInputsAndOutputsAnswerTheNumbersOfTheJsonRequest() throws Exception {
    Answer plain = postJson("/v2/models/dtypes/infer", dtypesJsonRequest().toString());
    assertThat(plain.code()).as(plain.json().toString()).isEqualTo(200);
    assertThat(plain.headerLength()).isNull();

    ObjectNode request = dtypesJsonRequest();
    List<byte[]> tensors = moveDataToBinary(request);
    request.putObject("parameters").put("binary_data_output", true);
    Answer binary = postBinary("/v2/models/dtypes/infer", request, tensors.toArray(byte[][]::new));

    assertThat(binary.code()).as(binary.json().toString()).isEqualTo(200);
    assertThat(binary.contentType()).isEqualTo("application/octet-stream");
    assertThat(binary.headerLength()).isNotNull();
    assertThat(binary.json().get("outputs").findValuesAsText("binary_data_size"))
        .containsExactly("16", "32", "16", "32", "4", "8"); // 2x2 of 4, 8, 4, 8, 1 bytes; 2 of 4
    assertThat(binary.length())
        .isEqualTo(Long.parseLong(binary.headerLength()) + 16 + 32 + 16 + 32 + 4 + 8);
    assertSameNumbers(binary.json(), plain.json());
    assertThat(binary.json().get("model_version")).isEqualTo(plain.json().get("model_version"));
  }

  @Test
  void binaryInputsWithJsonOutputsAnswerPlainJson() throws Exception {
    JsonNode plain = postJson("/v2/models/dtypes/infer", dtypesJsonRequest().toString()).json();
    ObjectNode request = dtypesJsonRequest();
    List<byte[]> tensors = moveDataToBinary(request);

    Answer answer = postBinary("/v2/models/dtypes/infer", request, tensors.toArray(byte[][]::new));

    assertThat(answer.code()).isEqualTo(200);
    assertThat(answer.contentType()).startsWith("application/json");
    assertThat(answer.headerLength()).isNull();
    OipShapes.assertInferenceResponse(answer.json());
    assertThat(answer.json()).isEqualTo(plain);
  }

  @Test
  void eachOutputIsBinaryOrJsonAsItsParametersSay() throws Exception {
    JsonNode plain = postJson("/v2/models/dtypes/infer", dtypesJsonRequest().toString()).json();
    ObjectNode request = dtypesJsonRequest(); // JSON inputs, binary outputs: no request header
    request.putObject("parameters").put("binary_data_output", true);
    ArrayNode outputs = request.putArray("outputs");
    outputs.addObject().put("name", "i64_minus_7");
    outputs.addObject().put("name", "b_negated").putObject("parameters").put("binary_data", false);

    Answer answer = postJson("/v2/models/dtypes/infer", request.toString());

    assertThat(answer.code()).as(answer.json().toString()).isEqualTo(200);
    assertThat(answer.contentType()).isEqualTo("application/octet-stream");
    JsonNode i64 = answer.json().get("outputs").get(0);
    JsonNode bools = answer.json().get("outputs").get(1);
    assertThat(i64.get("parameters").get("binary_data_size").asInt()).isEqualTo(32);
    assertThat(i64.get("data").get(0).asLong()).isEqualTo(9007199254740986L);
    assertThat(bools.has("parameters")).isFalse();
    assertThat(bools.get("data")).isEqualTo(plain.get("outputs").get(4).get("data"));
  }

  @Test
  void theDocumentsExampleLayoutWorksForATextModelWithBytes() throws Exception {
    JsonNode cases = TestModels.reference("sentiment").get("cases");
    ArrayNode texts = MAPPER.createArrayNode();
    cases.forEach(c -> texts.add(c.get("text").asText()));
    ObjectNode json = MAPPER.createObjectNode();
    ObjectNode input = json.putArray("inputs").addObject().put("name", "text");
    input.put("datatype", "BYTES").putArray("shape").add(texts.size());
    input.set("data", texts);
    JsonNode plain = postJson("/v2/models/sentiment/infer", json.toString()).json();

    ObjectNode request = json.deepCopy().put("model_name", "sentiment"); // as the example has it
    List<byte[]> tensors = moveDataToBinary(request);
    ArrayNode outputs = request.putArray("outputs");
    for (String name : List.of("label", "index", "score")) {
      outputs.addObject().put("name", name).putObject("parameters").put("binary_data", true);
    }
    Answer binary = postBinary("/v2/models/sentiment/infer", request, tensors.get(0));

    assertThat(binary.code()).as(binary.json().toString()).isEqualTo(200);
    assertSameNumbers(binary.json(), plain);
    JsonNode labels = binary.json().get("outputs").get(0).get("data");
    assertThat(labels.get(0).asText()).isEqualTo(cases.get(0).get("label").asText());
  }

  @Test
  void serverMetadataListsTheExtension() throws Exception {
    try (Response response =
        http.newCall(new Request.Builder().url(base + "/v2").build()).execute()) {
      JsonNode body = MAPPER.readTree(response.body().string());
      OipShapes.assertServerMetadata(body);
      assertThat(body.get("extensions").toString()).isEqualTo("[\"binary_tensor_data\"]");
    }
  }

  /**
   * One hostile request: its Inference-Header-Content-Length (null: the header's length), JSON
   * header and the bytes after it; the error expected (ending in "..." when only its start is).
   */
  record Hostile(String headerLength, String header, byte[] data, int code, String error) {}

  static byte[] floats(float... values) {
    ByteBuffer out = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      out.putFloat(v);
    }
    return out.array();
  }

  static String iris(String datatype, String shape, String parameters) {
    return "{\"inputs\": [{\"name\": \"input0\", \"datatype\": \""
        + datatype
        + "\", \"shape\": "
        + shape
        + ", \"parameters\": "
        + parameters
        + "}]}";
  }

  private static final byte[] ROW = floats(5.1f, 3.5f, 1.4f, 0.2f);
  private static final String OK = iris("FP32", "[1, 4]", "{\"binary_data_size\": 16}");
  private static final int OK_LENGTH = OK.getBytes(StandardCharsets.UTF_8).length;

  /** Inference-Header-Content-Length values and the JSON header it delimits. */
  static Stream<Hostile> headerCases() {
    return Stream.of(
        new Hostile(
            "abc",
            OK,
            ROW,
            400,
            "Inference-Header-Content-Length is 'abc'; it must be the length in bytes of the"
                + " JSON header at the start of the body, a whole number"),
        new Hostile(
            "-5",
            OK,
            ROW,
            400,
            "Inference-Header-Content-Length is '-5'; it must be the length in bytes of the"
                + " JSON header at the start of the body, a whole number"),
        new Hostile(
            "99999999999999999999",
            OK,
            ROW,
            400,
            "Inference-Header-Content-Length is '99999999999999999999'; it must be the length"
                + " in bytes of the JSON header at the start of the body, a whole number"),
        new Hostile(
            "1000",
            OK,
            ROW,
            400,
            "Inference-Header-Content-Length is 1000 but the body has only "
                + (OK_LENGTH + 16)
                + " bytes; it must be the length of the JSON header at the start of the body"),
        new Hostile(
            Integer.toString(OK_LENGTH - 3),
            OK,
            ROW,
            400,
            "the JSON header (the first "
                + (OK_LENGTH - 3)
                + " bytes, Inference-Header-Content-Length) is not valid JSON: Unexpected"
                + " end-of-input..."));
  }

  /** binary_data_size values that do not add up with the body, the shape or the data. */
  static Stream<Hostile> sizeCases() {
    return Stream.of(
        new Hostile(
            null,
            OK,
            floats(5.1f, 3.5f, 1.4f, 0.2f, 9f),
            400,
            "4 bytes follow the inputs' binary data: their parameters.binary_data_size add up"
                + " to 16 bytes, but the body has 20 bytes after its "
                + OK_LENGTH
                + "-byte JSON header (Inference-Header-Content-Length)"),
        new Hostile(
            null,
            OK,
            floats(5.1f, 3.5f),
            400,
            "input 'input0' has parameters.binary_data_size 16 but only 8 bytes of binary data"
                + " are left in the body"),
        new Hostile(
            null,
            iris("FP32", "[2, 4]", "{\"binary_data_size\": 16}"),
            ROW,
            400,
            "input 'input0' has 16 bytes of binary data but its shape [2, 4] of FP32 needs 8 x"
                + " 4 bytes = 32"),
        new Hostile(
            null,
            iris("FP32", "[4294967296, 2]", "{\"binary_data_size\": 16}"),
            ROW,
            400,
            "input 'input0' has 16 bytes of binary data but its shape [4294967296, 2] of FP32"
                + " needs 8589934592 x 4 bytes"),
        new Hostile(
            null,
            OK.replace("}}]}", "}, \"data\": [1, 2, 3, 4]}]}"),
            ROW,
            400,
            "input 'input0' has both 'data' and parameters.binary_data_size; send its values"
                + " once, in 'data' or as binary data after the JSON header"),
        new Hostile(
            null,
            iris("FP32", "[1, 4]", "{\"binary_data_size\": -16}"),
            ROW,
            400,
            "input 'input0' has parameters.binary_data_size -16; it must be a whole number of"
                + " bytes >= 0"),
        new Hostile(
            null,
            iris("FP32", "[1, 4]", "{\"binary_data_size\": \"16\"}"),
            ROW,
            400,
            "input 'input0' has parameters.binary_data_size \"16\"; it must be a whole number"
                + " of bytes >= 0"),
        new Hostile(
            null,
            iris("FP32", "[1, 4]", "{\"binary_data_size\": 1e30}"),
            ROW,
            400,
            "input 'input0' has parameters.binary_data_size 1.0E30; it must be a whole number"
                + " of bytes >= 0"));
  }

  /** Data the datatype does not allow, and parameters of the wrong type. */
  static Stream<Hostile> valueCases() {
    return Stream.of(
        new Hostile(
            null,
            iris("UINT8", "[1, 4]", "{\"binary_data_size\": 4}"),
            new byte[4],
            400,
            "input 'input0' has datatype 'UINT8'; the models here take FP32, FP64, INT32,"
                + " INT64, BOOL or BYTES"),
        new Hostile(
            null,
            iris("BOOL", "[1, 4]", "{\"binary_data_size\": 4}"),
            new byte[] {0, 1, 7, 0},
            400,
            "input 'input0' element 2 is the byte 7; a BOOL is one byte, 0 or 1"),
        new Hostile(
            null,
            iris("BYTES", "[2000000000]", "{\"binary_data_size\": 5}"),
            new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 'a'},
            400,
            "input 'input0' BYTES element 0 has the length 4294967295 but only 1 bytes of its"
                + " binary_data_size are left"),
        new Hostile(
            null,
            iris("BYTES", "[1]", "{\"binary_data_size\": 5}"),
            new byte[] {1, 0, 0, 0, (byte) 0xc3},
            400,
            "input 'input0' BYTES element 0 is not UTF-8 text (images are sent base64)"),
        new Hostile(
            null,
            OK.replace("}]}", "}], \"parameters\": {\"binary_data_output\": \"yes\"}}"),
            ROW,
            400,
            "parameters.binary_data_output is \"yes\"; it must be true or false"),
        new Hostile(
            null,
            OK.replace("\"input0\"", "\"x\"").replace("}]}", "}], \"model_name\": \"dtypes\"}"),
            ROW,
            400,
            "the request's model_name \"dtypes\" is not the model of its path, 'iris'"));
  }

  @ParameterizedTest
  @MethodSource({"headerCases", "sizeCases", "valueCases"})
  void malformedBinaryRequestsGet400NamingTheProblem(Hostile c) throws Exception {
    byte[] header = c.header().getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.writeBytes(header);
    body.writeBytes(c.data());
    String length = c.headerLength() != null ? c.headerLength() : Integer.toString(header.length);
    Answer answer = postRaw("/v2/models/iris/infer", length, body.toByteArray());
    assertThat(answer.code()).as(c.error()).isEqualTo(c.code());
    OipShapes.assertError(answer.json());
    String error = answer.json().get("error").asText();
    if (c.error().endsWith("...")) { // Jackson's words follow
      assertThat(error).startsWith(c.error().substring(0, c.error().length() - 3));
    } else {
      assertThat(error).isEqualTo(c.error());
    }
  }

  @Test
  void rawBinaryRequestsFeedTheOnlyInputAsOneItemAndAnswerBinary() throws Exception {
    JsonNode plain =
        postJson(
                "/v2/models/iris/infer",
                "{\"inputs\": [{\"name\": \"input0\", \"datatype\": \"FP32\", \"shape\": [1, 4],"
                    + " \"data\": [5.1, 3.4, 1.5, 0.2]}]}")
            .json();

    Answer raw = postRaw("/v2/models/iris/infer", "0", floats(5.1f, 3.4f, 1.5f, 0.2f));

    assertThat(raw.code()).as(raw.json().toString()).isEqualTo(200);
    assertThat(raw.contentType()).isEqualTo("application/octet-stream");
    assertThat(raw.json().get("outputs").get(0).get("parameters").get("binary_data_size").asInt())
        .isEqualTo(12);
    assertSameNumbers(raw.json(), plain);

    byte[] text = "What a wonderful day!".getBytes(StandardCharsets.UTF_8);
    Answer label = postRaw("/v2/models/sentiment/infer", "0", text);
    assertThat(label.code()).as(label.json().toString()).isEqualTo(200);
    assertThat(label.json().get("outputs").get(0).get("data").get(0).asText())
        .isEqualTo(TestModels.reference("sentiment").get("cases").get(0).get("label").asText());

    Answer twoRows = postRaw("/v2/models/iris/infer", "0", floats(new float[8]));
    assertThat(twoRows.code()).isEqualTo(400);
    assertThat(twoRows.json().get("error").asText())
        .isEqualTo(
            "input 'input0' of model iris has 32 bytes of binary data but its shape [1, 4] of"
                + " FP32 needs 4 x 4 bytes = 16");
    Answer severalInputs = postRaw("/v2/models/dtypes/infer", "0", new byte[8]);
    assertThat(severalInputs.code()).isEqualTo(400);
    assertThat(severalInputs.json().get("error").asText())
        .isEqualTo(
            "a raw binary request (Inference-Header-Content-Length: 0, the body only the data of"
                + " one input) is for models with one declared input; model dtypes has 5: send"
                + " the JSON inference request first, its inputs with parameters.binary_data_size,"
                + " and its length in Inference-Header-Content-Length");
  }

  @Test
  void binaryDataWithoutTheHeaderOrWithAnotherContentTypeIsRefused() throws Exception {
    Answer noHeader =
        postJson("/v2/models/iris/infer", iris("FP32", "[1, 4]", "{\"binary_data_size\": 16}"));
    assertThat(noHeader.code()).isEqualTo(400);
    assertThat(noHeader.json().get("error").asText())
        .isEqualTo(
            "input 'input0' has parameters.binary_data_size 16 but only 0 bytes of binary data"
                + " are left in the body; binary data follows a JSON header whose length in bytes"
                + " is sent in the Inference-Header-Content-Length header");

    Answer text =
        send(
            new Request.Builder()
                .url(base + "/v2/models/iris/infer")
                .header(HEADER, "2")
                .post(RequestBody.create("{}", MediaType.get("text/plain"))));
    assertThat(text.code()).isEqualTo(415);
    assertThat(text.json().get("error").asText())
        .isEqualTo(
            "Content-Type is 'text/plain; charset=utf-8'; a body with binary tensor data"
                + " (Inference-Header-Content-Length) is application/octet-stream");
  }
}
