package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.TestModels;
import dev.modelcache.cli.V2BinaryClient.Answer;
import dev.modelcache.config.Config;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Triton's binary tensor data extension on {@code /v2/models/{m}/infer}, with requests built by
 * hand from Triton's {@code extension_binary_data.md}: a JSON header of {@code
 * Inference-Header-Content-Length} bytes, then each binary input's raw data (little-endian,
 * row-major; BYTES as 4-byte length + bytes), answered with the numbers of the plain JSON request,
 * as binary or JSON outputs as asked.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TritonBinaryTest {
  private static final ObjectMapper MAPPER = V2BinaryClient.MAPPER;
  private static final String[][] DTYPES = {
    {"f32", "FP32"}, {"f64", "FP64"}, {"i32", "INT32"}, {"i64", "INT64"}, {"b", "BOOL"}
  };

  @TempDir static Path tmp;
  private Daemon daemon;
  private V2BinaryClient client;

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
    client = new V2BinaryClient(daemon.port());
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
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
      byte[] raw = V2BinaryClient.encode(input.get("datatype").asText(), input.remove("data"));
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

  /**
   * A tensor model's plain JSON body takes the fast path ({@code V2Stream}); the same bytes sent as
   * the JSON header of the binary extension take the tree path. Both answer the same bytes, the
   * errors included.
   */
  @Test
  void theFastPathAnswersTheTreePathsBytesAndErrors() throws Exception {
    JsonNode iris = client.getJson("/v2/models/iris");
    String input = iris.get("inputs").get(0).get("name").asText();
    JsonNode declared = iris.get("outputs"); // none: the tensor task names them output0, ...
    String output = declared.isEmpty() ? "output0" : declared.get(0).get("name").asText();
    String rows =
        "{\"name\": \"" + input + "\", \"shape\": [2, 4], \"datatype\": \"FP32\", \"data\": ";
    ObjectNode dtypes = dtypesJsonRequest().put("id", "req-7");
    ObjectNode some = dtypesJsonRequest();
    some.putArray("outputs").addObject().put("name", "i64_minus_7");
    ObjectNode wide = dtypesJsonRequest();
    ((ArrayNode) wide.get("inputs").get(2).get("data"))
        .set(0, MAPPER.getNodeFactory().numberNode(2147483648L));
    String[][] cases = {
      {"dtypes", dtypes.toString(), "200"},
      {"dtypes", some.toString(), "200"},
      {"iris", "{\"inputs\": [" + rows + "[[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]}]}", "200"},
      {
        "iris",
        "{\"outputs\": [{\"name\": \""
            + output
            + "\"}], \"inputs\": ["
            + rows
            + "[5.1, 3.5, 1.4, 0.2, 6.2, 2.9, 4.3, 1.3]}]}",
        "200"
      },
      {"iris", "{\"inputs\": [" + rows + "[5.1, \"x\", 1.4, 0.2, 6.2, 2.9, 4.3, 1.3]}]}", "400"},
      {"iris", "{\"inputs\": [" + rows + "[5.1, 3.5, 1.4]}]}", "400"},
      {
        "iris",
        "{\"outputs\": [{\"name\": \"nope\"}], \"inputs\": ["
            + rows
            + "[5.1, 3.5, 1.4, 0.2, 6.2, 2.9, 4.3, 1.3]}]}",
        "400"
      },
      {
        "iris",
        "{\"inputs\": [{\"name\": \""
            + input
            + "\", \"shape\": [3], \"datatype\":"
            + " \"FP32\", \"data\": [1, 2, 3]}]}",
        "400"
      },
      {"dtypes", wide.toString(), "400"},
      {"dtypes", "{\"inputs\": [], \"x\": 1}", "400"},
    };
    for (String[] c : cases) {
      byte[] body = c[1].getBytes(StandardCharsets.UTF_8);
      String path = "/v2/models/" + c[0] + "/infer";
      V2BinaryClient.Raw fast = client.postJsonBytes(path, body, false);
      V2BinaryClient.Raw tree = client.postJsonBytes(path, body, true);
      assertThat(fast.code()).as(c[1] + " " + fast.body()).isEqualTo(Integer.parseInt(c[2]));
      assertThat(fast).as(c[1]).isEqualTo(tree);
    }
  }

  @Test
  void binaryInputsAndOutputsAnswerTheNumbersOfTheJsonRequest() throws Exception {
    Answer plain = client.postJson("/v2/models/dtypes/infer", dtypesJsonRequest().toString());
    assertThat(plain.code()).as(plain.json().toString()).isEqualTo(200);
    assertThat(plain.headerLength()).isNull();

    ObjectNode request = dtypesJsonRequest();
    List<byte[]> tensors = moveDataToBinary(request);
    request.putObject("parameters").put("binary_data_output", true);
    Answer binary =
        client.postBinary("/v2/models/dtypes/infer", request, tensors.toArray(byte[][]::new));

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
    JsonNode plain =
        client.postJson("/v2/models/dtypes/infer", dtypesJsonRequest().toString()).json();
    ObjectNode request = dtypesJsonRequest();
    List<byte[]> tensors = moveDataToBinary(request);

    Answer answer =
        client.postBinary("/v2/models/dtypes/infer", request, tensors.toArray(byte[][]::new));

    assertThat(answer.code()).isEqualTo(200);
    assertThat(answer.contentType()).startsWith("application/json");
    assertThat(answer.headerLength()).isNull();
    OipShapes.assertInferenceResponse(answer.json());
    assertThat(answer.json()).isEqualTo(plain);
  }

  @Test
  void eachOutputIsBinaryOrJsonAsItsParametersSay() throws Exception {
    JsonNode plain =
        client.postJson("/v2/models/dtypes/infer", dtypesJsonRequest().toString()).json();
    ObjectNode request = dtypesJsonRequest(); // JSON inputs, binary outputs: no request header
    request.putObject("parameters").put("binary_data_output", true);
    ArrayNode outputs = request.putArray("outputs");
    outputs.addObject().put("name", "i64_minus_7");
    outputs.addObject().put("name", "b_negated").putObject("parameters").put("binary_data", false);

    Answer answer = client.postJson("/v2/models/dtypes/infer", request.toString());

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
    JsonNode plain = client.postJson("/v2/models/sentiment/infer", json.toString()).json();

    ObjectNode request = json.deepCopy().put("model_name", "sentiment"); // as the example has it
    List<byte[]> tensors = moveDataToBinary(request);
    ArrayNode outputs = request.putArray("outputs");
    for (String name : List.of("label", "index", "score")) {
      outputs.addObject().put("name", name).putObject("parameters").put("binary_data", true);
    }
    Answer binary = client.postBinary("/v2/models/sentiment/infer", request, tensors.get(0));

    assertThat(binary.code()).as(binary.json().toString()).isEqualTo(200);
    assertSameNumbers(binary.json(), plain);
    JsonNode labels = binary.json().get("outputs").get(0).get("data");
    assertThat(labels.get(0).asText()).isEqualTo(cases.get(0).get("label").asText());
  }

  @Test
  void serverMetadataListsTheExtension() throws Exception {
    JsonNode body = client.getJson("/v2");
    OipShapes.assertServerMetadata(body);
    assertThat(body.get("extensions").toString()).isEqualTo("[\"binary_tensor_data\"]");
  }

  @Test
  void rawBinaryRequestsFeedTheOnlyInputAsOneItemAndAnswerBinary() throws Exception {
    JsonNode plain =
        client
            .postJson(
                "/v2/models/iris/infer",
                "{\"inputs\": [{\"name\": \"input0\", \"datatype\": \"FP32\", \"shape\": [1, 4],"
                    + " \"data\": [5.1, 3.4, 1.5, 0.2]}]}")
            .json();

    Answer raw =
        client.postRaw("/v2/models/iris/infer", "0", V2BinaryClient.floats(5.1f, 3.4f, 1.5f, 0.2f));

    assertThat(raw.code()).as(raw.json().toString()).isEqualTo(200);
    assertThat(raw.contentType()).isEqualTo("application/octet-stream");
    assertThat(raw.json().get("outputs").get(0).get("parameters").get("binary_data_size").asInt())
        .isEqualTo(12);
    assertSameNumbers(raw.json(), plain);

    byte[] text = "What a wonderful day!".getBytes(StandardCharsets.UTF_8);
    Answer label = client.postRaw("/v2/models/sentiment/infer", "0", text);
    assertThat(label.code()).as(label.json().toString()).isEqualTo(200);
    assertThat(label.json().get("outputs").get(0).get("data").get(0).asText())
        .isEqualTo(TestModels.reference("sentiment").get("cases").get(0).get("label").asText());

    Answer twoRows =
        client.postRaw("/v2/models/iris/infer", "0", V2BinaryClient.floats(new float[8]));
    assertThat(twoRows.code()).isEqualTo(400);
    assertThat(twoRows.json().get("error").asText())
        .isEqualTo(
            "input 'input0' of model iris has 32 bytes of binary data but its shape [1, 4] of"
                + " FP32 needs 4 x 4 bytes = 16");
    Answer severalInputs = client.postRaw("/v2/models/dtypes/infer", "0", new byte[8]);
    assertThat(severalInputs.code()).isEqualTo(400);
    assertThat(severalInputs.json().get("error").asText())
        .isEqualTo(
            "a raw binary request (Inference-Header-Content-Length: 0, the body only the data of"
                + " one input) is for models with one declared input; model dtypes has 5: send"
                + " the JSON inference request first, its inputs with parameters.binary_data_size,"
                + " and its length in Inference-Header-Content-Length");
  }
}
