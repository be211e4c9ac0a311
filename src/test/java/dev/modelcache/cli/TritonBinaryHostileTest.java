package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.cli.V2BinaryClient.Answer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile binary tensor data on {@code /v2/models/{m}/infer}: every malformed header, size, shape
 * or element is a 400 (415 for another Content-Type) whose message names the problem, and nothing
 * is allocated for a size the body does not hold (shapes of billions of elements are refused from a
 * few bytes).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TritonBinaryHostileTest {
  @TempDir static Path tmp;
  private Daemon daemon;
  private V2BinaryClient client;

  @BeforeAll
  void start() throws Exception {
    var config =
        TestModels.config(
            tmp.resolve("cache"),
            TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("sources"))));
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

  /**
   * One hostile request: its Inference-Header-Content-Length (null: the header's length), JSON
   * header and the bytes after it; the error expected (ending in "..." when only its start is).
   */
  record Hostile(String headerLength, String header, byte[] data, int code, String error) {}

  static String iris(String datatype, String shape, String parameters) {
    return "{\"inputs\": [{\"name\": \"input0\", \"datatype\": \""
        + datatype
        + "\", \"shape\": "
        + shape
        + ", \"parameters\": "
        + parameters
        + "}]}";
  }

  private static final byte[] ROW = V2BinaryClient.floats(5.1f, 3.5f, 1.4f, 0.2f);
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
            V2BinaryClient.floats(5.1f, 3.5f, 1.4f, 0.2f, 9f),
            400,
            "4 bytes follow the inputs' binary data: their parameters.binary_data_size add up"
                + " to 16 bytes, but the body has 20 bytes after its "
                + OK_LENGTH
                + "-byte JSON header (Inference-Header-Content-Length)"),
        new Hostile(
            null,
            OK,
            V2BinaryClient.floats(5.1f, 3.5f),
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
    Answer answer = client.postRaw("/v2/models/iris/infer", length, body.toByteArray());
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
  void binaryDataWithoutTheHeaderOrWithAnotherContentTypeIsRefused() throws Exception {
    Answer noHeader =
        client.postJson(
            "/v2/models/iris/infer", iris("FP32", "[1, 4]", "{\"binary_data_size\": 16}"));
    assertThat(noHeader.code()).isEqualTo(400);
    assertThat(noHeader.json().get("error").asText())
        .isEqualTo(
            "input 'input0' has parameters.binary_data_size 16 but only 0 bytes of binary data"
                + " are left in the body; binary data follows a JSON header whose length in bytes"
                + " is sent in the Inference-Header-Content-Length header");

    Answer text =
        client.send(
            new Request.Builder()
                .url(client.base() + "/v2/models/iris/infer")
                .header(V2BinaryClient.HEADER, "2")
                .post(RequestBody.create("{}", MediaType.get("text/plain"))));
    assertThat(text.code()).isEqualTo(415);
    assertThat(text.json().get("error").asText())
        .isEqualTo(
            "Content-Type is 'text/plain; charset=utf-8'; a body with binary tensor data"
                + " (Inference-Header-Content-Length) is application/octet-stream");
  }
}
