package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.inference.GatedTasks;
import dev.modelcache.inference.task.BuiltInTasks;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

/**
 * The serving layer end to end through HTTP on the real PyTorch engine: dynamic batching gives the
 * answers of unbatched runs, a full queue answers 503 with Retry-After at once, a request that
 * outlives its timeout gets 504, bodies over the limit 413 (chunked too), every dtype round-trips,
 * and lazy models load on their first request. Gates in front of the forward pass ( {@link
 * GatedTasks}) hold workers busy deterministically.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServingTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int MAX_BODY = 65_536;

  @TempDir static Path tmp;
  private Daemon daemon;
  private GatedTasks tasks;
  private OkHttpClient http;
  private String base;
  private final ExecutorService clients = Executors.newFixedThreadPool(12);

  @BeforeAll
  void start() throws Exception {
    Path sources = tmp.resolve("sources");
    Path iris = TestModels.copy("iris", sources);
    Path dtypes = TestModels.copy("dtypes", sources);
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  max_body_bytes: "
            + MAX_BODY
            + "\nmodels:\n"
            + entry("iris", iris, "iris", "    workers: 2\n")
            + entry(
                "batched",
                iris,
                "iris",
                "    batch: {max_size: 16, max_delay_ms: 0}\n    queue: 64\n")
            + entry("busy", iris, "iris", "    queue: 2\n")
            + entry("slow", iris, "iris", "    timeout_ms: 300\n    queue: 4\n")
            + entry("dtypes", dtypes, "dtypes", "    batch: {max_size: 8, max_delay_ms: 0}\n")
            + entry("lazy", iris, "iris", "    load: lazy\n    required: false\n");
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    tasks =
        new GatedTasks(
            BuiltInTasks.factory(new ObjectMapper()), List.of("batched", "busy", "slow", "dtypes"));
    daemon = Daemon.withTasks(config, Clock.systemUTC(), tasks).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
    http = new OkHttpClient.Builder().readTimeout(60, TimeUnit.SECONDS).build();
    base = "http://127.0.0.1:" + daemon.port();
  }

  private static String entry(String name, Path dir, String pinsOf, String extra) {
    return "  - name: "
        + name
        + "\n    source: file:"
        + dir
        + "\n    sha256:\n      model.pt: "
        + TestModels.sha256(pinsOf, "model.pt")
        + "\n      config.json: "
        + TestModels.sha256(pinsOf, "config.json")
        + "\n"
        + extra;
  }

  @AfterAll
  void stop() {
    clients.shutdownNow();
    if (daemon != null) {
      daemon.close();
    }
  }

  record Reply(int code, String body, String retryAfter) {
    JsonNode json() throws IOException {
      return MAPPER.readTree(body);
    }
  }

  private Reply post(String path, String body) throws IOException {
    Request request =
        new Request.Builder().url(base + path).post(RequestBody.create(body, JSON)).build();
    try (Response response = http.newCall(request).execute()) {
      return new Reply(response.code(), response.body().string(), response.header("Retry-After"));
    }
  }

  private Reply get(String path) throws IOException {
    try (Response response =
        http.newCall(new Request.Builder().url(base + path).build()).execute()) {
      return new Reply(response.code(), response.body().string(), response.header("Retry-After"));
    }
  }

  private Future<Reply> postAsync(String path, String body) {
    return clients.submit(() -> post(path, body));
  }

  /** One series of /metrics, or NaN when absent. */
  private double metric(String series) throws IOException {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(get("/metrics").body);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  /** A counter-like series of /metrics, 0 when it has not appeared yet. */
  private double count(String series) throws IOException {
    double value = metric(series);
    return Double.isNaN(value) ? 0 : value;
  }

  private void awaitQueueDepth(String model, int depth) throws Exception {
    String series = "modelcache_inference_queue_depth{model=\"" + model + "\"}";
    Poll.until(
        WAIT,
        Duration.ofMillis(5),
        "queue depth of " + model + " to reach " + depth,
        () -> metricQuietly(series) == depth);
  }

  private double metricQuietly(String series) {
    try {
      return metric(series);
    } catch (IOException e) {
      return Double.NaN;
    }
  }

  private static String irisInput(int k) {
    JsonNode cases = TestModels.reference("iris").get("cases");
    ArrayNode row = (ArrayNode) cases.get(k % cases.size()).get("inputs").deepCopy();
    for (int i = 0; i < row.size(); i++) {
      row.set(i, row.get(i).asDouble() + 0.1 * (k / cases.size()) * (i + 1));
    }
    return "[" + row + "]";
  }

  @Test
  void concurrentRequestsShareOneForwardPassAndGetTheAnswersOfUnbatchedRuns() throws Exception {
    List<JsonNode> unbatched = new ArrayList<>();
    for (int k = 0; k < 9; k++) {
      Reply reply = post("/inference/iris", "{\"inputs\": " + irisInput(k) + "}");
      assertThat(reply.code()).as(reply.body()).isEqualTo(200);
      unbatched.add(reply.json().get("outputs"));
    }
    GatedTasks.Gate gate = tasks.gate("batched");
    gate.shut();
    List<Future<Reply>> replies = new ArrayList<>();
    try {
      replies.add(postAsync("/inference/batched", "{\"inputs\": " + irisInput(0) + "}"));
      gate.awaitHeld(WAIT); // the only worker is in the first forward pass
      for (int k = 1; k < 9; k++) {
        replies.add(postAsync("/inference/batched", "{\"inputs\": " + irisInput(k) + "}"));
      }
      awaitQueueDepth("batched", 8);
    } finally {
      gate.open();
    }
    for (int k = 0; k < 9; k++) {
      Reply reply = replies.get(k).get(60, TimeUnit.SECONDS);
      assertThat(reply.code()).as(reply.body()).isEqualTo(200);
      JsonNode outputs = reply.json().get("outputs");
      assertThat(reply.json().get("shape").toString()).isEqualTo("[1,3]");
      for (int c = 0; c < 3; c++) {
        assertThat(outputs.get(0).get(c).asDouble())
            .as("request %d class %d", k, c)
            .isCloseTo(unbatched.get(k).get(0).get(c).asDouble(), within(1e-6));
      }
    }
    // one pass of the first request, then one of the eight that queued behind it
    assertThat(metric("modelcache_inference_batch_size_count{model=\"batched\"}")).isEqualTo(2);
    assertThat(metric("modelcache_inference_batch_size_sum{model=\"batched\"}")).isEqualTo(9);
    assertThat(metric("modelcache_inference_batch_size_max{model=\"batched\"}")).isEqualTo(8);
    assertThat(metric("modelcache_inference_queue_depth{model=\"batched\"}")).isEqualTo(0);
  }

  @Test
  void aFullQueueAnswers503WithRetryAfterAtOnce() throws Exception {
    GatedTasks.Gate gate = tasks.gate("busy");
    gate.shut();
    List<Future<Reply>> accepted = new ArrayList<>();
    Reply rejected;
    Reply rejectedV2;
    try {
      accepted.add(postAsync("/inference/busy", "{\"inputs\": " + irisInput(0) + "}"));
      gate.awaitHeld(WAIT);
      accepted.add(postAsync("/inference/busy", "{\"inputs\": " + irisInput(1) + "}"));
      accepted.add(postAsync("/inference/busy", "{\"inputs\": " + irisInput(2) + "}"));
      awaitQueueDepth("busy", 2);
      rejected = post("/inference/busy", "{\"inputs\": " + irisInput(3) + "}");
      rejectedV2 =
          post(
              "/v2/models/busy/infer",
              "{\"inputs\": [{\"name\": \"input0\", \"shape\": [4], \"datatype\": \"FP32\","
                  + " \"data\": [1, 2, 3, 4]}]}");
    } finally {
      gate.open();
    }
    assertThat(rejected.code()).isEqualTo(503);
    assertThat(rejected.retryAfter()).isEqualTo("1");
    assertThat(rejected.json().get("error").asText())
        .isEqualTo(
            "busy - the queue is full (2 requests waiting for 1 worker(s)); retry shortly, or"
                + " raise the model's queue or workers");
    assertThat(rejectedV2.code()).isEqualTo(503);
    assertThat(rejectedV2.retryAfter()).isEqualTo("1");
    for (Future<Reply> reply : accepted) {
      assertThat(reply.get(60, TimeUnit.SECONDS).code()).isEqualTo(200);
    }
    assertThat(metric("modelcache_inference_requests_total{model=\"busy\",outcome=\"queue_full\"}"))
        .isEqualTo(2);
    assertThat(metric("modelcache_inference_queue_depth{model=\"busy\"}")).isEqualTo(0);
  }

  @Test
  void aRequestThatOutlivesTimeoutMsGets504AndLeavesTheQueue() throws Exception {
    GatedTasks.Gate gate = tasks.gate("slow");
    gate.shut();
    Reply running;
    Reply queued;
    try {
      Future<Reply> first = postAsync("/inference/slow", "{\"inputs\": " + irisInput(0) + "}");
      gate.awaitHeld(WAIT);
      Future<Reply> second = postAsync("/inference/slow", "{\"inputs\": " + irisInput(1) + "}");
      running = first.get(60, TimeUnit.SECONDS);
      queued = second.get(60, TimeUnit.SECONDS);
      assertThat(metric("modelcache_inference_queue_depth{model=\"slow\"}")).isEqualTo(0);
    } finally {
      gate.open();
    }
    for (Reply reply : List.of(running, queued)) {
      assertThat(reply.code()).isEqualTo(504);
      assertThat(reply.json().get("error").asText())
          .isEqualTo(
              "slow - no answer within timeout_ms (300 ms); retry later or with fewer inputs, or"
                  + " raise the model's timeout_ms or workers");
    }
    assertThat(metric("modelcache_inference_requests_total{model=\"slow\",outcome=\"timeout\"}"))
        .isEqualTo(2);
    // the worker finishes the abandoned pass and serves again
    Reply after = post("/inference/slow", "{\"inputs\": " + irisInput(2) + "}");
    assertThat(after.code()).as(after.body()).isEqualTo(200);
  }

  @Test
  void bodiesOverMaxBodyBytesGet413AlsoWhenChunked() throws Exception {
    Reply sized = post("/inference/iris", "{\"inputs\": [" + "1,".repeat(MAX_BODY) + "1]}");
    assertThat(sized.code()).isEqualTo(413);
    assertThat(sized.json().get("error").asText())
        .isEqualTo("request body is larger than server.max_body_bytes (65536 bytes)");

    String answer = chunkedPost("/v2/models/iris/infer", MAX_BODY * 4);
    assertThat(answer).startsWith("HTTP/1.1 413 ");
    String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
    assertThat(MAPPER.readTree(body).get("error").asText())
        .isEqualTo("request body is larger than server.max_body_bytes (65536 bytes)");
    assertThat(post("/inference/iris", "{\"inputs\": " + irisInput(0) + "}").code()).isEqualTo(200);
  }

  /** A chunked POST of {@code bytes} of JSON, written until the server stops reading. */
  private String chunkedPost(String path, int bytes) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", daemon.port())) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(
          ("POST "
                  + path
                  + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      byte[] chunk = "1,".repeat(4096).getBytes(StandardCharsets.US_ASCII);
      try {
        out.write("1\r\n[\r\n".getBytes(StandardCharsets.US_ASCII));
        for (int sent = 0; sent < bytes; sent += chunk.length) {
          out.write(
              (Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(chunk);
          out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.write("2\r\n1]\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
      } catch (IOException e) {
        // the server answered and closed before reading everything: read its answer
      }
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      in.transferTo(answer);
      return answer.toString(StandardCharsets.UTF_8);
    }
  }

  @Test
  void everyDtypeRoundTripsThroughInference() throws Exception {
    JsonNode reference = TestModels.reference("dtypes");
    JsonNode in = reference.get("inputs");
    Reply reply =
        post(
            "/inference/dtypes",
            "{\"inputs\": [{\"data\": "
                + in.get("f32")
                + "}, {\"data\": "
                + in.get("f64")
                + ", \"dtype\": \"float64\"}, {\"data\": "
                + in.get("i32")
                + "}, {\"data\": "
                + in.get("i64")
                + "}, {\"data\": "
                + in.get("b")
                + "}]}");
    assertThat(reply.code()).as(reply.body()).isEqualTo(200);
    JsonNode answer = reply.json();
    JsonNode expected = reference.get("outputs");
    assertThat(answer.get("dtype").asText()).isEqualTo("float32");
    assertThat(answer.get("outputs")).isEqualTo(expected.get("f32_doubled"));
    List<String> dtypes = new ArrayList<>();
    answer.get("more_outputs").forEach(o -> dtypes.add(o.get("dtype").asText()));
    assertThat(dtypes).containsExactly("float64", "int32", "int64", "bool", "float32");
    JsonNode more = answer.get("more_outputs");
    assertThat(more.get(0).get("outputs").get(1).get(1).asDouble()).isEqualTo(1e15 + 0.5);
    assertThat(more.get(0).get("outputs").get(0).get(0).asDouble()).isEqualTo(0.5);
    assertThat(more.get(1).get("outputs")).isEqualTo(expected.get("i32_tripled"));
    assertThat(more.get(2).get("outputs")).isEqualTo(expected.get("i64_minus_7"));
    assertThat(more.get(2).get("outputs").get(0).get(0).asLong()).isEqualTo(9007199254740986L);
    assertThat(more.get(3).get("outputs")).isEqualTo(expected.get("b_negated"));
    assertThat(more.get(4).get("outputs")).isEqualTo(expected.get("row_sum"));
    assertThat(more.get(4).get("shape").toString()).isEqualTo("[2]");

    Reply wrongType =
        post(
            "/inference/dtypes",
            "{\"inputs\": [{\"data\": [[1, 2]]}, {\"data\": [[1, 2]]}, {\"data\": [[1.5, 2]]},"
                + " {\"data\": [[1, 2]]}, {\"data\": [[true, false]]}]}");
    assertThat(wrongType.code()).isEqualTo(400);
    assertThat(wrongType.json().get("error").asText())
        .isEqualTo("inputs[2].data[0][0] (1.5) is not a whole number that fits in int32");
    Reply wrongBool =
        post(
            "/inference/dtypes",
            "{\"inputs\": [{\"data\": [[1, 2]]}, {\"data\": [[1, 2]]}, {\"data\": [[1, 2]]},"
                + " {\"data\": [[1, 2]]}, {\"data\": [[1, 0]]}]}");
    assertThat(wrongBool.code()).isEqualTo(400);
    assertThat(wrongBool.json().get("error").asText())
        .startsWith("inputs[4].data[0][0] is a number; expected true or false (bool)");
    Reply tooFew = post("/inference/dtypes", "{\"inputs\": [[1, 2]]}");
    assertThat(tooFew.code()).isEqualTo(400);
    assertThat(tooFew.json().get("error").asText())
        .isEqualTo(
            "model dtypes takes 5 input tensor(s) (f32, f64, i32, i64, b) but the request has 1");
  }

  @Test
  void everyDtypeRoundTripsThroughTheOpenInferenceProtocol() throws Exception {
    JsonNode reference = TestModels.reference("dtypes");
    ObjectNode request = MAPPER.createObjectNode();
    request.put("id", "req-42");
    request.putObject("parameters").put("anything", "goes");
    ArrayNode inputs = request.putArray("inputs");
    String[][] declared = {
      {"b", "BOOL"}, {"i64", "INT64"}, {"i32", "INT32"}, {"f64", "FP64"}, {"f32", "FP32"}
    };
    for (String[] input : declared) { // out of the model's order: matched by name
      ObjectNode tensor = inputs.addObject();
      tensor.put("name", input[0]).put("datatype", input[1]);
      tensor.putArray("shape").add(2).add(2);
      JsonNode nested = reference.get("inputs").get(input[0]);
      if (input[0].equals("f64")) {
        tensor.set("data", nested); // nested data is accepted too
      } else {
        ArrayNode flat = tensor.putArray("data");
        nested.forEach(row -> row.forEach(flat::add));
      }
    }
    Reply reply = post("/v2/models/dtypes/infer", request.toString());
    assertThat(reply.code()).as(reply.body()).isEqualTo(200);
    JsonNode answer = reply.json();
    OipShapes.assertInferenceResponse(answer);
    assertThat(answer.get("model_name").asText()).isEqualTo("dtypes");
    assertThat(answer.get("id").asText()).isEqualTo("req-42");
    assertThat(answer.get("model_version").asText()).hasSize(40);
    Map<String, String> datatypes =
        Map.of(
            "f32_doubled", "FP32",
            "f64_plus_half", "FP64",
            "i32_tripled", "INT32",
            "i64_minus_7", "INT64",
            "b_negated", "BOOL",
            "row_sum", "FP32");
    assertThat(answer.get("outputs").findValuesAsText("name"))
        .containsExactly(
            "f32_doubled", "f64_plus_half", "i32_tripled", "i64_minus_7", "b_negated", "row_sum");
    for (JsonNode output : answer.get("outputs")) {
      String name = output.get("name").asText();
      assertThat(output.get("datatype").asText()).isEqualTo(datatypes.get(name));
      JsonNode expected = reference.get("outputs").get(name);
      ArrayNode flat = MAPPER.createArrayNode();
      if (expected.get(0).isArray()) {
        expected.forEach(row -> row.forEach(flat::add));
        assertThat(output.get("shape").toString()).isEqualTo("[2,2]");
      } else {
        expected.forEach(flat::add);
        assertThat(output.get("shape").toString()).isEqualTo("[2]");
      }
      assertThat(output.get("data")).as(name).isEqualTo(flat);
    }

    request.putArray("outputs").addObject().put("name", "i64_minus_7");
    JsonNode only = post("/v2/models/dtypes/infer", request.toString()).json();
    assertThat(only.get("outputs").findValuesAsText("name")).containsExactly("i64_minus_7");
    assertThat(only.get("outputs").get(0).get("data").get(0).asLong()).isEqualTo(9007199254740986L);
  }

  @Test
  void batchedDtypesAreSplitBackByRows() throws Exception {
    JsonNode reference = TestModels.reference("dtypes");
    GatedTasks.Gate gate = tasks.gate("dtypes");
    gate.shut();
    Future<Reply> held;
    Future<Reply> rowZero;
    Future<Reply> rowOne;
    double countBefore = count("modelcache_inference_batch_size_count{model=\"dtypes\"}");
    double sumBefore = count("modelcache_inference_batch_size_sum{model=\"dtypes\"}");
    try {
      held = postAsync("/inference/dtypes", typedRows(reference, List.of(0, 1)));
      gate.awaitHeld(WAIT);
      rowZero = postAsync("/inference/dtypes", typedRows(reference, List.of(0)));
      rowOne = postAsync("/inference/dtypes", typedRows(reference, List.of()));
      awaitQueueDepth("dtypes", 2);
    } finally {
      gate.open();
    }
    assertThat(held.get(60, TimeUnit.SECONDS).code()).isEqualTo(200);
    JsonNode zero = rowZero.get(60, TimeUnit.SECONDS).json();
    JsonNode one = rowOne.get(60, TimeUnit.SECONDS).json();
    JsonNode expected = reference.get("outputs");
    assertThat(zero.get("outputs").toString())
        .isEqualTo("[" + expected.get("f32_doubled").get(0) + "]");
    assertThat(zero.get("more_outputs").get(2).get("outputs").toString())
        .isEqualTo("[" + expected.get("i64_minus_7").get(0) + "]");
    // the unbatched request (row 1 without the batch dimension) is answered without it
    assertThat(one.get("shape").toString()).isEqualTo("[2]");
    assertThat(one.get("outputs")).isEqualTo(expected.get("f32_doubled").get(1));
    assertThat(one.get("more_outputs").get(3).get("outputs"))
        .isEqualTo(expected.get("b_negated").get(1));
    assertThat(one.get("more_outputs").get(4).get("outputs").asDouble())
        .isEqualTo(expected.get("row_sum").get(1).asDouble());
    assertThat(metric("modelcache_inference_batch_size_count{model=\"dtypes\"}") - countBefore)
        .isEqualTo(2);
    assertThat(metric("modelcache_inference_batch_size_sum{model=\"dtypes\"}") - sumBefore)
        .isEqualTo(3);
  }

  /** A typed /inference request of the given reference rows; no rows: row 1 without batch dim. */
  private static String typedRows(JsonNode reference, List<Integer> rows) {
    StringBuilder body = new StringBuilder("{\"inputs\": [");
    for (String name : List.of("f32", "f64", "i32", "i64", "b")) {
      JsonNode nested = reference.get("inputs").get(name);
      String data;
      if (rows.isEmpty()) {
        data = nested.get(1).toString();
      } else {
        List<String> picked = new ArrayList<>();
        rows.forEach(r -> picked.add(nested.get(r).toString()));
        data = "[" + String.join(",", picked) + "]";
      }
      body.append(name.equals("f32") ? "" : ", ").append("{\"data\": ").append(data).append("}");
    }
    return body.append("]}").toString();
  }

  @Test
  void openInferenceProtocolRoutesAnswerInThePublishedShapes() throws Exception {
    Reply server = get("/v2");
    assertThat(server.code()).isEqualTo(200);
    OipShapes.assertServerMetadata(server.json());
    assertThat(server.json().get("name").asText()).isEqualTo("modelcache");

    assertThat(get("/v2/health/live").json().get("live").asBoolean()).isTrue();
    Reply ready = get("/v2/health/ready");
    assertThat(ready.code()).isEqualTo(200);
    assertThat(ready.json().get("ready").asBoolean()).isTrue();

    Reply metadata = get("/v2/models/iris");
    assertThat(metadata.code()).isEqualTo(200);
    OipShapes.assertModelMetadata(metadata.json());
    assertThat(metadata.json().get("platform").asText()).isEqualTo("pytorch_torchscript");
    assertThat(metadata.json().get("inputs").toString())
        .isEqualTo("[{\"name\":\"input0\",\"datatype\":\"FP32\",\"shape\":[-1,4]}]");
    String revision = metadata.json().get("versions").get(0).asText();
    JsonNode dtypes = get("/v2/models/dtypes").json();
    OipShapes.assertModelMetadata(dtypes);
    assertThat(dtypes.get("outputs").get(5).toString())
        .isEqualTo("{\"name\":\"row_sum\",\"datatype\":\"FP32\",\"shape\":[-1]}");

    Reply modelReady = get("/v2/models/iris/ready");
    assertThat(modelReady.code()).isEqualTo(200);
    assertThat(modelReady.json().get("ready").asBoolean()).isTrue();
    assertThat(get("/v2/models/iris/versions/" + revision + "/ready").code()).isEqualTo(200);
    assertThat(get("/v2/models/iris/versions/" + revision).code()).isEqualTo(200);

    String irisRequest =
        "{\"inputs\": [{\"name\": \"input0\", \"shape\": [2, 4], \"datatype\": \"FP32\", \"data\":"
            + " [[5.1, 3.4, 1.5, 0.2], [7.0, 3.2, 4.7, 1.4]]}]}";
    Reply infer = post("/v2/models/iris/versions/" + revision + "/infer", irisRequest);
    assertThat(infer.code()).as(infer.body()).isEqualTo(200);
    OipShapes.assertInferenceResponse(infer.json());
    JsonNode output = infer.json().get("outputs").get(0);
    assertThat(output.get("name").asText()).isEqualTo("output0");
    assertThat(output.get("shape").toString()).isEqualTo("[2,3]");
    assertThat(output.get("data").size()).isEqualTo(6);
    JsonNode iris = TestModels.reference("iris").get("cases");
    assertThat(output.get("data").get(0).asDouble())
        .isCloseTo(iris.get(0).get("probabilities").get(0).asDouble(), within(1e-5));
    assertThat(infer.json().has("id")).isFalse();

    Map<String, Reply> errors =
        Map.of(
            "unknown model",
            post("/v2/models/nope/infer", irisRequest),
            "wrong version",
            post("/v2/models/iris/versions/abc/infer", irisRequest),
            "bytes",
            post(
                "/v2/models/iris/infer",
                "{\"inputs\": [{\"name\": \"input0\", \"shape\": [1], \"datatype\": \"BYTES\","
                    + " \"data\": [\"hello\"]}]}"),
            "count",
            post(
                "/v2/models/iris/infer",
                "{\"inputs\": [{\"name\": \"input0\", \"shape\": [2, 4], \"datatype\": \"FP32\","
                    + " \"data\": [1, 2, 3]}]}"),
            "no inputs",
            post("/v2/models/iris/infer", "{\"id\": \"x\"}"),
            "unknown output",
            post(
                "/v2/models/iris/infer",
                irisRequest.replace("]}]}", "]}], \"outputs\": [{\"name\": \"nope\"}]}")));
    for (Map.Entry<String, Reply> error : errors.entrySet()) {
      OipShapes.assertError(error.getValue().json());
    }
    assertThat(errors.get("unknown model").code()).isEqualTo(404);
    assertThat(errors.get("wrong version").code()).isEqualTo(404);
    assertThat(errors.get("wrong version").json().get("error").asText())
        .isEqualTo("model 'iris' has no revision 'abc' loaded; loaded: " + revision + " (primary)");
    assertThat(errors.get("bytes").code()).isEqualTo(400);
    assertThat(errors.get("bytes").json().get("error").asText())
        .isEqualTo(
            "input 'input0' has datatype 'BYTES'; a tensor model takes FP32, FP64, INT32, INT64 or"
                + " BOOL (BYTES is for the text tasks)");
    assertThat(errors.get("count").code()).isEqualTo(400);
    assertThat(errors.get("count").json().get("error").asText())
        .isEqualTo("input 'input0' has 3 values but its shape [2, 4] needs 8");
    assertThat(errors.get("no inputs").code()).isEqualTo(400);
    assertThat(errors.get("unknown output").code()).isEqualTo(400);
    assertThat(errors.get("unknown output").json().get("error").asText())
        .isEqualTo("output 'nope' is not an output of model iris (outputs: output0)");
    assertThat(get("/v2/models/nope/ready").code()).isEqualTo(404);
  }

  @Test
  void aLazyModelLoadsOnItsFirstRequest() throws Exception {
    JsonNode before = get("/models/lazy").json();
    assertThat(before.get("state").asText()).isEqualTo("READY");
    assertThat(before.get("load").asText()).isEqualTo("lazy");
    assertThat(before.get("loaded").asBoolean()).isFalse();
    assertThat(before.has("device")).isFalse();
    assertThat(get("/v2/models/lazy").code()).isEqualTo(200);

    Reply first = post("/inference/lazy", "{\"inputs\": " + irisInput(0) + "}");
    assertThat(first.code()).as(first.body()).isEqualTo(200);
    JsonNode after = get("/models/lazy").json();
    assertThat(after.get("loaded").asBoolean()).isTrue();
    assertThat(after.get("device").asText()).isEqualTo("cpu()");
    assertThat(after.get("load_seconds").asDouble()).isPositive();
    assertThat(get("/metrics").body())
        .containsPattern(
            "(?m)^modelcache_model_info\\{device=\"cpu\\(\\)\",engine=\"PyTorch\",model=\"lazy\",task=\"tensor\"\\} 1(\\.0)?$")
        .containsPattern(
            "(?m)^modelcache_model_load_duration_seconds\\{model=\"lazy\"\\} 0\\.\\d*[1-9]");
  }

  @Test
  void modelsReportDeviceLoadTimeAndServingSettings() throws Exception {
    JsonNode iris = get("/models/iris").json();
    assertThat(iris.get("device").asText()).isEqualTo("cpu()");
    assertThat(iris.get("device_config").asText()).isEqualTo("auto");
    assertThat(iris.get("loaded").asBoolean()).isTrue();
    assertThat(iris.get("load_seconds").asDouble()).isPositive();
    assertThat(iris.get("warmup_seconds").asDouble())
        .isLessThanOrEqualTo(iris.get("load_seconds").asDouble());
    assertThat(iris.get("workers").asInt()).isEqualTo(2);
    assertThat(get("/models/batched").json().get("batch").toString())
        .isEqualTo("{\"max_size\":16,\"max_delay_ms\":0,\"effective_max_size\":16}");
    assertThat(get("/models/slow").json().get("timeout_ms").asInt()).isEqualTo(300);
    assertThat(get("/metrics").body())
        .containsPattern(
            "(?m)^modelcache_model_info\\{device=\"cpu\\(\\)\",engine=\"PyTorch\",model=\"iris\",task=\"tensor\"\\} 1(\\.0)?$");
  }
}
