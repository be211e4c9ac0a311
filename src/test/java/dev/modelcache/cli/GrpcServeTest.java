package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc;
import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.modelcache.grpc.proto.InferTensorContents;
import dev.modelcache.grpc.proto.ModelInferRequest;
import dev.modelcache.grpc.proto.ModelInferRequest.InferInputTensor;
import dev.modelcache.grpc.proto.ModelInferResponse;
import dev.modelcache.grpc.proto.ModelMetadataRequest;
import dev.modelcache.grpc.proto.ModelMetadataResponse;
import dev.modelcache.grpc.proto.ModelReadyRequest;
import dev.modelcache.grpc.proto.ServerLiveRequest;
import dev.modelcache.grpc.proto.ServerMetadataRequest;
import dev.modelcache.grpc.proto.ServerReadyRequest;
import dev.modelcache.inference.GatedTasks;
import dev.modelcache.inference.task.BuiltInTasks;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
 * {@code inference.GRPCInferenceService} of a whole daemon, through a grpc-java client on a real
 * port: every RPC, typed and raw tensors against the REST answers, and each status a client mistake
 * or a busy model gets (never UNKNOWN or INTERNAL). Gates ({@link GatedTasks}) hold forward passes
 * to fill queues and outlive deadlines without sleeps.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GrpcServeTest {
  private static final String TOKEN = "grpc-test-token";
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int MAX_BODY = 65_536;
  private static final double[][] IRIS = {{5.1, 3.4, 1.5, 0.2}, {7.0, 3.2, 4.7, 1.4}};

  @TempDir static Path tmp;
  private Daemon daemon;
  private GatedTasks tasks;
  private ManagedChannel channel;
  private GRPCInferenceServiceBlockingStub open;
  private GRPCInferenceServiceBlockingStub authorized;
  private OkHttpClient http;
  private final ExecutorService clients = Executors.newFixedThreadPool(4);

  @BeforeAll
  void start() throws Exception {
    Path iris = TestModels.copy("iris", tmp.resolve("sources"));
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  max_body_bytes: "
            + MAX_BODY
            + "\n  grpc: {enabled: true, port: 0}\nmodels:\n"
            + TestModels.modelYaml("iris", iris)
            + TestModels.modelYaml("iris", iris).replace("name: iris", "name: slow")
            + "    timeout_ms: 300\n"
            + TestModels.modelYaml("iris", iris).replace("name: iris", "name: busy")
            + "    queue: 1\n"
            + TestModels.modelYaml("iris", iris).replace("name: iris", "name: patient")
            + "  - {name: broken, source: 'file:"
            + tmp.resolve("nothing-here")
            + "', required: false}\n";
    Config config =
        new ConfigLoader(Map.of("MODELCACHE_TOKEN", TOKEN), tmp).parse(yaml, "test config", tmp);
    tasks =
        new GatedTasks(
            BuiltInTasks.factory(new ObjectMapper()), List.of("slow", "busy", "patient"));
    daemon = Daemon.withTasks(config, Clock.systemUTC(), tasks).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
    channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", daemon.grpcPort()).usePlaintext().build();
    open = GRPCInferenceServiceGrpc.newBlockingStub(channel);
    authorized = withToken("Bearer " + TOKEN);
    http = new OkHttpClient.Builder().readTimeout(60, TimeUnit.SECONDS).build();
  }

  @AfterAll
  void stop() throws InterruptedException {
    clients.shutdownNow();
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  private GRPCInferenceServiceBlockingStub withToken(String authorization) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
    return open.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static ModelInferRequest typed(String model, double[]... rows) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (double[] row : rows) {
      for (double v : row) {
        contents.addFp32Contents((float) v);
      }
    }
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .setId("req-1")
        .addInputs(input(rows.length).setContents(contents))
        .build();
  }

  private static ModelInferRequest raw(String model, double[]... rows) {
    ByteBuffer bytes = ByteBuffer.allocate(rows.length * 16).order(ByteOrder.LITTLE_ENDIAN);
    for (double[] row : rows) {
      for (double v : row) {
        bytes.putFloat((float) v);
      }
    }
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .addInputs(input(rows.length))
        .addRawInputContents(ByteString.copyFrom(bytes.flip()))
        .build();
  }

  private static InferInputTensor.Builder input(int rows) {
    return InferInputTensor.newBuilder()
        .setName("input0")
        .setDatatype("FP32")
        .addShape(rows)
        .addShape(4);
  }

  private JsonNode restInfer(String model, double[][] rows) throws Exception {
    String body = MAPPER.writeValueAsString(Map.of("inputs", rows));
    Request request =
        new Request.Builder()
            .url("http://127.0.0.1:" + daemon.port() + "/inference/" + model)
            .header("Authorization", "Bearer " + TOKEN)
            .post(RequestBody.create(body, MediaType.get("application/json")))
            .build();
    try (Response response = http.newCall(request).execute()) {
      return MAPPER.readTree(response.body().string());
    }
  }

  private JsonNode restGet(String path) throws Exception {
    Request request = new Request.Builder().url("http://127.0.0.1:" + daemon.port() + path).build();
    try (Response response = http.newCall(request).execute()) {
      return MAPPER.readTree(response.body().string());
    }
  }

  private double metric(String series) throws Exception {
    Request request =
        new Request.Builder().url("http://127.0.0.1:" + daemon.port() + "/metrics").build();
    try (Response response = http.newCall(request).execute()) {
      Matcher m =
          Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$")
              .matcher(response.body().string());
      return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }
  }

  private static Status failure(Supplier<?> call) {
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, call::get);
    assertThat(e).as("the call should have failed").isNotNull();
    return e.getStatus();
  }

  @Test
  void serverHealthAndMetadataAnswer() {
    assertThat(open.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
    assertThat(open.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
    assertThat(open.serverMetadata(ServerMetadataRequest.getDefaultInstance()).getName())
        .isEqualTo("modelcache");
  }

  @Test
  void modelMetadataAndReadinessMatchTheRestRoutes() throws Exception {
    ModelMetadataResponse metadata =
        open.modelMetadata(ModelMetadataRequest.newBuilder().setName("iris").build());
    JsonNode rest = restGet("/v2/models/iris");
    assertThat(metadata.getName()).isEqualTo("iris");
    assertThat(metadata.getPlatform()).isEqualTo(rest.get("platform").asText());
    assertThat(metadata.getVersionsList()).containsExactly(rest.get("versions").get(0).asText());
    assertThat(metadata.getInputs(0).getName()).isEqualTo("input0");
    assertThat(metadata.getInputs(0).getDatatype()).isEqualTo("FP32");
    assertThat(metadata.getInputs(0).getShapeList()).containsExactly(-1L, 4L);
    assertThat(metadata.getOutputsCount()).isEqualTo(rest.get("outputs").size());

    String revision = metadata.getVersions(0);
    assertThat(ready("iris", "")).isTrue();
    assertThat(ready("iris", revision)).isTrue();
    assertThat(ready("broken", "")).isFalse();
    assertThat(failure(() -> ready("iris", "abc")).getCode()).isEqualTo(Status.Code.NOT_FOUND);
    Status unknown = failure(() -> ready("nope", ""));
    assertThat(unknown.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(unknown.getDescription()).startsWith("model 'nope' is not configured (configured: ");
    Status empty = failure(() -> ready("", ""));
    assertThat(empty.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(empty.getDescription())
        .isEqualTo("'name' is empty; name one of the configured models (GET /models lists them)");
    Status notReady =
        failure(
            () -> open.modelMetadata(ModelMetadataRequest.newBuilder().setName("broken").build()));
    assertThat(notReady.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(notReady.getDescription()).startsWith("broken is FAILED");
  }

  private boolean ready(String model, String version) {
    return open.modelReady(
            ModelReadyRequest.newBuilder().setName(model).setVersion(version).build())
        .getReady();
  }

  @Test
  void typedInferenceAnswersTypedContentsWithTheNumbersOfRestInference() throws Exception {
    ModelInferResponse answer = authorized.modelInfer(typed("iris", IRIS));
    assertThat(answer.getModelName()).isEqualTo("iris");
    assertThat(answer.getId()).isEqualTo("req-1");
    assertThat(answer.getModelVersion())
        .isEqualTo(restGet("/v2/models/iris").get("versions").get(0).asText());
    assertThat(answer.getRawOutputContentsCount()).isZero();
    assertThat(answer.getOutputs(0).getName()).isEqualTo("output0");
    assertThat(answer.getOutputs(0).getDatatype()).isEqualTo("FP32");
    assertThat(answer.getOutputs(0).getShapeList()).containsExactly(2L, 3L);
    List<Float> values = answer.getOutputs(0).getContents().getFp32ContentsList();
    JsonNode rest = restInfer("iris", IRIS).get("outputs");
    assertThat(values).hasSize(6);
    for (int i = 0; i < 6; i++) {
      assertThat((double) values.get(i))
          .isCloseTo(rest.get(i / 3).get(i % 3).asDouble(), within(1e-6));
    }
  }

  @Test
  void rawInputsGetRawOutputsWithTheSameNumbers() {
    ModelInferResponse typed = authorized.modelInfer(typed("iris", IRIS));
    ModelInferResponse raw = authorized.modelInfer(raw("iris", IRIS));
    assertThat(raw.getOutputs(0).hasContents()).isFalse();
    assertThat(raw.getOutputs(0).getShapeList()).containsExactly(2L, 3L);
    assertThat(raw.getRawOutputContentsCount()).isEqualTo(1);
    ByteBuffer bytes =
        raw.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(bytes.remaining()).isEqualTo(6 * 4);
    for (float expected : typed.getOutputs(0).getContents().getFp32ContentsList()) {
      assertThat(bytes.getFloat()).isEqualTo(expected);
    }
  }

  @Test
  void modelInferNeedsTheBearerToken() throws Exception {
    double before =
        metric("modelcache_grpc_requests_total{code=\"UNAUTHENTICATED\",method=\"ModelInfer\"}");
    Status missing = failure(() -> open.modelInfer(typed("iris", IRIS)));
    assertThat(missing.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(missing.getDescription())
        .isEqualTo(
            "this method needs the metadata 'authorization: Bearer <token>' (the token set in"
                + " MODELCACHE_TOKEN)");
    Status wrong = failure(() -> withToken("Bearer nope").modelInfer(typed("iris", IRIS)));
    assertThat(wrong.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(wrong.getDescription()).isEqualTo("the bearer token is wrong");
    assertThat(withToken("bearer " + TOKEN).modelInfer(typed("iris", IRIS)).getOutputsCount())
        .isEqualTo(1);
    assertThat(
            metric(
                "modelcache_grpc_requests_total{code=\"UNAUTHENTICATED\",method=\"ModelInfer\"}"))
        .isEqualTo(before + 2);
  }

  @Test
  void badInputsAreInvalidArgumentNamingTheProblem() {
    Map<String, ModelInferRequest> requests =
        Map.of(
            "input 'input0' (FP32) has 7 values in contents.fp32_contents but its shape needs 8",
            typed("iris", IRIS).toBuilder()
                .setInputs(
                    0,
                    input(2)
                        .setContents(
                            InferTensorContents.newBuilder()
                                .addAllFp32Contents(List.of(1f, 2f, 3f, 4f, 5f, 6f, 7f))))
                .build(),
            "input 'input0' (FP32) has 0 values in contents.fp32_contents but its shape needs 4"
                + " (it has 4 in contents.int_contents: the datatype decides the field)",
            typed("iris", IRIS).toBuilder()
                .setInputs(
                    0,
                    input(1)
                        .setContents(
                            InferTensorContents.newBuilder()
                                .addAllIntContents(List.of(1, 2, 3, 4))))
                .build(),
            "input 'input0' has 31 bytes of raw_input_contents but 8 elements of FP32 take 32"
                + " (4 bytes each, little-endian)",
            raw("iris", IRIS).toBuilder()
                .setRawInputContents(0, ByteString.copyFrom(new byte[31]))
                .build(),
            "raw_input_contents has 2 entries but the request has 1 inputs; give one per input, in"
                + " the order of 'inputs'",
            raw("iris", IRIS).toBuilder().addRawInputContents(ByteString.EMPTY).build(),
            "input 'input0' has 'contents' while the request has raw_input_contents; send every"
                + " input one way",
            typed("iris", IRIS).toBuilder().addRawInputContents(ByteString.EMPTY).build(),
            "input 'input0' has datatype 'FP33'; the protocol's datatypes are BOOL, UINT8, UINT16,"
                + " UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES",
            typed("iris", IRIS).toBuilder()
                .setInputs(0, typed("iris", IRIS).getInputs(0).toBuilder().setDatatype("FP33"))
                .build(),
            "ModelInferRequest has no 'inputs': give each input's name, datatype, shape and"
                + " contents (or raw_input_contents)",
            ModelInferRequest.newBuilder().setModelName("iris").build(),
            "output 'nope' is not an output of model iris (outputs: output0)",
            typed("iris", IRIS).toBuilder()
                .addOutputs(
                    ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("nope"))
                .build());
    for (Map.Entry<String, ModelInferRequest> request : requests.entrySet()) {
      Status status = failure(() -> authorized.modelInfer(request.getValue()));
      assertThat(status.getCode()).as(request.getKey()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(status.getDescription()).isEqualTo(request.getKey());
    }
  }

  @Test
  void unknownModelIsNotFoundAndAFailedOneUnavailable() {
    Status unknown = failure(() -> authorized.modelInfer(typed("nope", IRIS)));
    assertThat(unknown.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    Status wrongVersion =
        failure(
            () ->
                authorized.modelInfer(
                    typed("iris", IRIS).toBuilder().setModelVersion("abc").build()));
    assertThat(wrongVersion.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(wrongVersion.getDescription())
        .startsWith("model 'iris' has no revision 'abc' loaded; loaded: ");
    Status failed = failure(() -> authorized.modelInfer(typed("broken", IRIS)));
    assertThat(failed.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void messagesOverMaxBodyBytesAreResourceExhausted() {
    double[][] rows = new double[MAX_BODY / 16 + 1][4];
    Status status = failure(() -> authorized.modelInfer(raw("iris", rows)));
    assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(authorized.modelInfer(raw("iris", IRIS)).getOutputsCount()).isEqualTo(1);
  }

  @Test
  void aFullQueueIsUnavailableAtOnce() throws Exception {
    GatedTasks.Gate gate = tasks.gate("busy");
    gate.shut();
    try {
      Future<ModelInferResponse> running =
          clients.submit(() -> authorized.modelInfer(typed("busy", IRIS)));
      gate.awaitHeld(WAIT);
      Future<ModelInferResponse> queued =
          clients.submit(() -> authorized.modelInfer(typed("busy", IRIS)));
      awaitMetric("modelcache_inference_queue_depth{model=\"busy\"}", 1);
      Status full = failure(() -> authorized.modelInfer(typed("busy", IRIS)));
      assertThat(full.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(full.getDescription()).contains("queue");
      gate.open();
      assertThat(running.get(60, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(1);
      assertThat(queued.get(60, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(1);
    } finally {
      gate.open();
    }
  }

  @Test
  void aModelPastItsTimeoutMsIsDeadlineExceeded() throws Exception {
    GatedTasks.Gate gate = tasks.gate("slow");
    gate.shut();
    Status status;
    try {
      status = failure(() -> authorized.modelInfer(typed("slow", IRIS)));
    } finally {
      gate.open();
    }
    assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(status.getDescription())
        .isEqualTo(
            "slow - no answer within timeout_ms (300 ms); retry later or with fewer inputs, or"
                + " raise the model's timeout_ms or workers");
    assertThat(metric("modelcache_inference_requests_total{model=\"slow\",outcome=\"timeout\"}"))
        .isGreaterThanOrEqualTo(1);
  }

  @Test
  void theCallersDeadlineEndsTheWaitAndFreesTheQueue() throws Exception {
    GatedTasks.Gate gate = tasks.gate("patient");
    gate.shut();
    try {
      double ended = endedEarly();
      Future<ModelInferResponse> running =
          clients.submit(() -> authorized.modelInfer(typed("patient", IRIS)));
      gate.awaitHeld(WAIT);
      Status status =
          failure(
              () ->
                  authorized
                      .withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                      .modelInfer(typed("patient", IRIS)));
      assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
      // the server saw the call end: by its own deadline timer (DEADLINE_EXCEEDED) or, when the
      // client's cancel at its deadline arrived first (the server's deadline starts when the call
      // reaches it, a little later), as CANCELLED; then the abandoned request left the queue
      Poll.until(
          WAIT,
          Duration.ofMillis(20),
          "the abandoned call counted",
          () -> endedEarly() == ended + 1);
      awaitMetric("modelcache_inference_queue_depth{model=\"patient\"}", 0);
      gate.open();
      assertThat(running.get(60, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(1);
    } finally {
      gate.open();
    }
  }

  @Test
  void callsAreCountedByMethodAndCode() throws Exception {
    double before = metric("modelcache_grpc_requests_total{code=\"OK\",method=\"ServerLive\"}");
    open.serverLive(ServerLiveRequest.getDefaultInstance());
    assertThat(metric("modelcache_grpc_requests_total{code=\"OK\",method=\"ServerLive\"}"))
        .isEqualTo(before + 1);
    assertThat(metric("modelcache_grpc_calls_active")).isEqualTo(0);
  }

  /** ModelInfer calls that ended by their deadline or their client's cancel, so far. */
  private double endedEarly() throws Exception {
    return metric(
            "modelcache_grpc_requests_total{code=\"DEADLINE_EXCEEDED\",method=\"ModelInfer\"}")
        + metric("modelcache_grpc_requests_total{code=\"CANCELLED\",method=\"ModelInfer\"}");
  }

  /** Waits until {@code series} reaches {@code value} (a scrape every 20 ms, at most WAIT). */
  private void awaitMetric(String series, double value) throws Exception {
    Poll.until(WAIT, Duration.ofMillis(20), series + " = " + value, () -> metric(series) == value);
  }
}
