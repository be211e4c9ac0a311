package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/**
 * The JSON shapes that the Open Inference Protocol's REST spec publishes (KServe's {@code
 * rest_predict_v2.yaml}: {@code metadata_server_response}, {@code metadata_model_response}, {@code
 * metadata_tensor}, {@code inference_response}, {@code response_output}, the error responses),
 * written as assertions: every required field present with its JSON type, no other field.
 */
final class OipShapes {
  private static final Set<String> DATATYPES =
      Set.of(
          "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
          "FP32", "FP64", "BYTES");

  private OipShapes() {}

  /** {@code {name: string, version: string, extensions: [string]}}. */
  static void assertServerMetadata(JsonNode body) {
    assertFields(body, Set.of("name", "version", "extensions"), Set.of());
    assertThat(body.get("name").isTextual()).isTrue();
    assertThat(body.get("version").isTextual()).isTrue();
    assertStrings(body.get("extensions"));
  }

  /**
   * {@code {name: string, versions: [string] #optional, platform: string, inputs: [metadata_tensor]
   * #optional, outputs: [metadata_tensor] #optional}}.
   */
  static void assertModelMetadata(JsonNode body) {
    assertFields(body, Set.of("name", "platform"), Set.of("versions", "inputs", "outputs"));
    assertThat(body.get("name").isTextual()).isTrue();
    assertThat(body.get("platform").isTextual()).isTrue();
    if (body.has("versions")) {
      assertStrings(body.get("versions"));
    }
    for (String list : new String[] {"inputs", "outputs"}) {
      if (body.has(list)) {
        assertThat(body.get(list).isArray()).as(list).isTrue();
        for (JsonNode tensor : body.get(list)) {
          assertFields(tensor, Set.of("name", "datatype", "shape"), Set.of());
          assertTensorHead(tensor);
        }
      }
    }
  }

  /**
   * {@code {model_name: string, model_version: string #optional, id: string #optional, parameters:
   * object #optional, outputs: [response_output]}}, each output {@code {name, shape, datatype,
   * parameters #optional, data}} with as many data values as its shape says.
   */
  static void assertInferenceResponse(JsonNode body) {
    assertFields(
        body, Set.of("model_name", "outputs"), Set.of("model_version", "id", "parameters"));
    assertThat(body.get("model_name").isTextual()).isTrue();
    for (String field : new String[] {"model_version", "id"}) {
      if (body.has(field)) {
        assertThat(body.get(field).isTextual()).as(field).isTrue();
      }
    }
    if (body.has("parameters")) {
      assertThat(body.get("parameters").isObject()).isTrue();
    }
    assertThat(body.get("outputs").isArray()).isTrue();
    for (JsonNode output : body.get("outputs")) {
      assertFields(output, Set.of("name", "shape", "datatype", "data"), Set.of("parameters"));
      assertTensorHead(output);
      long count = 1;
      for (JsonNode d : output.get("shape")) {
        assertThat(d.asLong()).as("shape of a response output").isNotNegative();
        count *= d.asLong();
      }
      assertThat(output.get("data").isArray()).isTrue();
      assertThat((long) output.get("data").size())
          .as("values of %s", output.get("name"))
          .isEqualTo(count);
    }
  }

  /** {@code {error: string}}. */
  static void assertError(JsonNode body) {
    assertFields(body, Set.of("error"), Set.of());
    assertThat(body.get("error").isTextual()).isTrue();
  }

  private static void assertTensorHead(JsonNode tensor) {
    assertThat(tensor.get("name").isTextual()).isTrue();
    assertThat(DATATYPES).contains(tensor.get("datatype").asText());
    assertThat(tensor.get("shape").isArray()).isTrue();
    tensor.get("shape").forEach(d -> assertThat(d.isIntegralNumber()).as("shape").isTrue());
  }

  private static void assertStrings(JsonNode list) {
    assertThat(list.isArray()).isTrue();
    list.forEach(s -> assertThat(s.isTextual()).isTrue());
  }

  private static void assertFields(JsonNode body, Set<String> required, Set<String> optional) {
    assertThat(body.isObject()).as(body.toString()).isTrue();
    for (String field : required) {
      assertThat(body.has(field)).as("%s in %s", field, body).isTrue();
    }
    body.fieldNames()
        .forEachRemaining(
            field ->
                assertThat(required.contains(field) || optional.contains(field))
                    .as("unexpected field %s in %s", field, body)
                    .isTrue());
  }
}
