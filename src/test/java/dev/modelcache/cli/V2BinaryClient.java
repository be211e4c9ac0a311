package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * A test client of {@code /v2/models/{m}/infer} that speaks Triton's binary tensor data extension
 * as its document lays it out: it builds bodies of a JSON header and raw tensors, and decodes the
 * binary outputs of an answer back into its JSON.
 *
 * <pre>{@code
 * V2BinaryClient client = new V2BinaryClient(daemon.port());
 * V2BinaryClient.Answer answer = client.postBinary("/v2/models/iris/infer", header, rawInput);
 * }</pre>
 */
final class V2BinaryClient {
  static final ObjectMapper MAPPER = new ObjectMapper();
  static final String HEADER = "Inference-Header-Content-Length";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final MediaType OCTETS = MediaType.get("application/octet-stream");

  private final OkHttpClient http =
      new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
  private final String base;

  V2BinaryClient(int port) {
    this.base = "http://127.0.0.1:" + port;
  }

  String base() {
    return base;
  }

  JsonNode getJson(String path) throws IOException {
    Request request = new Request.Builder().url(base + path).build();
    try (Response response = http.newCall(request).execute()) {
      return MAPPER.readTree(response.body().string());
    }
  }

  /** An answer: its JSON header, and its binary outputs' data decoded into that JSON. */
  record Answer(int code, String contentType, String headerLength, long length, JsonNode json) {}

  Answer postJson(String path, String body) throws IOException {
    return send(new Request.Builder().url(base + path).post(RequestBody.create(body, JSON)));
  }

  /** A status and a body, as sent. */
  record Raw(int code, String body) {}

  /**
   * {@code body} posted as JSON, or with {@code asHeader} as the JSON header of the binary
   * extension that takes the whole body (the tree path of the route).
   */
  Raw postJsonBytes(String path, byte[] body, boolean asHeader) throws IOException {
    Request.Builder request =
        new Request.Builder().url(base + path).post(RequestBody.create(body, JSON));
    if (asHeader) {
      request.header(HEADER, Integer.toString(body.length));
    }
    try (Response response = http.newCall(request.build()).execute()) {
      return new Raw(response.code(), response.body().string());
    }
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

  Answer send(Request.Builder request) throws IOException {
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

  /** FP32 raw data. */
  static byte[] floats(float... values) {
    ByteBuffer out = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      out.putFloat(v);
    }
    return out.array();
  }
}
