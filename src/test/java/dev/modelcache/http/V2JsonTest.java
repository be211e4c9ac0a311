package dev.modelcache.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.inference.ModelRegistry.V2Metadata;
import dev.modelcache.inference.V2Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class V2JsonTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String A = "{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP32\"";

  private static JsonNode tree(String json) throws Exception {
    return JSON.readTree(json);
  }

  private static V2Json.Request parse(String json) throws Exception {
    return V2Json.parseRequest(tree(json));
  }

  @Test
  void parsesARequestAndRendersItsTensorsBackUnchanged() throws Exception {
    V2Json.Request request =
        parse(
            "{\"id\": \"42\", \"parameters\": {\"x\": 1}, \"inputs\": ["
                + "{\"name\": \"input0\", \"shape\": [2, 2], \"datatype\": \"FP32\","
                + " \"parameters\": {}, \"data\": [[5.1, 3.4], [1.5, 0.2]]},"
                + "{\"name\": \"flags\", \"shape\": [3], \"datatype\": \"BOOL\","
                + " \"data\": [true, false, true]}]}");

    assertThat(request.id()).isEqualTo("42");
    assertThat(request.outputs()).isEmpty();
    assertThat(request.inputs()).extracting(V2Tensor::name).containsExactly("input0", "flags");
    assertThat(request.inputs().get(0).shape()).containsExactly(2, 2);
    assertThat(request.inputs().get(0).data().toString()).isEqualTo("[5.1,3.4,1.5,0.2]");

    JsonNode response =
        V2Json.response(JSON, "iris", request, new V2Answer("f2770b5f", request.inputs()));
    assertThat(tree(response.toString()))
        .isEqualTo(
            tree(
                "{\"model_name\": \"iris\", \"model_version\": \"f2770b5f\", \"id\": \"42\","
                    + " \"outputs\": ["
                    + "{\"name\": \"input0\", \"datatype\": \"FP32\", \"shape\": [2, 2],"
                    + " \"data\": [5.1, 3.4, 1.5, 0.2]},"
                    + "{\"name\": \"flags\", \"datatype\": \"BOOL\", \"shape\": [3],"
                    + " \"data\": [true, false, true]}]}"));
    assertThat(V2Json.parseRequest(requestOf(response)).inputs().get(0).data())
        .isEqualTo(request.inputs().get(0).data());
  }

  /** The outputs of a response as the inputs of a request: the same tensor JSON both ways. */
  private static JsonNode requestOf(JsonNode response) {
    return JSON.createObjectNode().set("inputs", response.get("outputs"));
  }

  @Test
  void flatNestedAndScalarDataAreTheSame() throws Exception {
    JsonNode flat = parse("{\"inputs\": [" + A + ", \"data\": [1, 2]}]}").inputs().get(0).data();
    JsonNode nested =
        parse("{\"inputs\": [" + A + ", \"data\": [[1], [2]]}]}").inputs().get(0).data();
    assertThat(nested).isEqualTo(flat);
    JsonNode scalar =
        parse(
                "{\"inputs\": [{\"name\": \"s\", \"shape\": [], \"datatype\": \"INT64\","
                    + " \"data\": 7}]}")
            .inputs()
            .get(0)
            .data();
    assertThat(scalar.toString()).isEqualTo("[7]");
  }

  @Test
  void anAbsentIdIsNotEchoed() throws Exception {
    V2Json.Request request = parse("{\"inputs\": [" + A + ", \"data\": [1, 2]}]}");
    JsonNode response = V2Json.response(JSON, "iris", request, new V2Answer("r", List.of()));
    assertThat(response.toString())
        .isEqualTo("{\"model_name\":\"iris\",\"model_version\":\"r\",\"outputs\":[]}");
  }

  @Test
  void keepsOnlyTheOutputsAskedFor() throws Exception {
    V2Json.Request request =
        parse("{\"inputs\": [" + A + ", \"data\": [1, 2]}], \"outputs\": [{\"name\": \"b\"}]}");
    List<V2Tensor> outputs =
        List.of(
            new V2Tensor("a", new long[] {1}, "FP32", tree("[1.0]")),
            new V2Tensor("b", new long[] {1}, "INT64", tree("[2]")));

    JsonNode response = V2Json.response(JSON, "iris", request, new V2Answer("r", outputs));

    assertThat(response.get("outputs").toString())
        .isEqualTo("[{\"name\":\"b\",\"datatype\":\"INT64\",\"shape\":[1],\"data\":[2]}]");
  }

  @Test
  void anOutputTheModelLacksIsABadInput() throws Exception {
    V2Json.Request request =
        parse("{\"inputs\": [" + A + ", \"data\": [1, 2]}], \"outputs\": [{\"name\": \"c\"}]}");
    List<V2Tensor> outputs =
        List.of(
            new V2Tensor("a", new long[] {1}, "FP32", tree("[1.0]")),
            new V2Tensor("b", new long[] {1}, "INT64", tree("[2]")));

    assertThatThrownBy(() -> V2Json.response(JSON, "iris", request, new V2Answer("r", outputs)))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage("output 'c' is not an output of model iris (outputs: a, b)");
  }

  @Test
  void rendersModelMetadata() throws Exception {
    V2Metadata metadata =
        new V2Metadata(
            "iris",
            "f2770b5f",
            "pytorch_torchscript",
            List.of(new V2Tensor.Spec("input0", "FP32", new long[] {-1, 4})),
            List.of());

    assertThat(tree(V2Json.metadata(JSON, metadata).toString()))
        .isEqualTo(
            tree(
                "{\"name\": \"iris\", \"versions\": [\"f2770b5f\"],"
                    + " \"platform\": \"pytorch_torchscript\","
                    + " \"inputs\": [{\"name\": \"input0\", \"datatype\": \"FP32\","
                    + " \"shape\": [-1, 4]}], \"outputs\": []}"));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      textBlock =
          """
          {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}], "foo": 1} \
            | inference request has an unknown field 'foo' (allowed: id, model_name, parameters, inputs, outputs)
          {"id": 42, "inputs": []} | 'id' must be a string
          {"parameters": [], "inputs": []} | 'parameters' must be an object
          {} | inference request needs 'inputs': a non-empty list of {"name", "shape", "datatype", "data"}
          {"inputs": []} | inference request needs 'inputs': a non-empty list of {"name", "shape", "datatype", "data"}
          {"inputs": [1]} | inputs[0] must be an object {"name", "shape", "datatype", "data"}
          {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1], "x": 0}]} \
            | inputs[0] has an unknown field 'x' (allowed: name, shape, datatype, parameters, data)
          {"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]} | inputs[0] needs 'name' (a string)
          {"inputs": [{"name": "a", "shape": [1], "datatype": 1, "data": [1]}]} | inputs[0] needs 'datatype' (a string)
          {"inputs": [{"name": "a", "datatype": "FP32", "data": [1]}]} | input 'a' needs 'shape' (a list of whole numbers)
          {"inputs": [{"name": "a", "shape": [-1], "datatype": "FP32", "data": [1]}]} \
            | input 'a' shape[0] is -1; dimensions are whole numbers >= 0
          {"inputs": [{"name": "a", "shape": [1.5], "datatype": "FP32", "data": [1]}]} \
            | input 'a' shape[0] is 1.5; dimensions are whole numbers >= 0
          {"inputs": [{"name": "a", "shape": [4294967296, 4294967296], "datatype": "FP32", "data": [1]}]} \
            | input 'a' has a shape with too many elements
          {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32"}]} | input 'a' needs 'data' (a flat or nested list)
          {"inputs": [{"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3]]}]} \
            | input 'a' has 3 values but its shape [2, 2] needs 4
          {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}, \
            {"name": "a", "shape": [1], "datatype": "FP32", "data": [2]}]} | input 'a' is given twice
          {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": "a"} \
            | 'outputs' must be a list of {"name": ...}
          {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{}]} \
            | outputs[0] needs a 'name' (a string)
          """)
  void refusesABadRequestNamingWhatIsWrong(String body, String message) throws Exception {
    JsonNode request = tree(body);
    assertThatThrownBy(() -> V2Json.parseRequest(request))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage(message);
  }
}
