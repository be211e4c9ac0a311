package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.PythonVenv;
import dev.modelcache.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An independent client of the gRPC endpoint: Python's grpcio with stubs that grpcio-tools
 * generates from the published {@code grpc_predict_v2.proto}, against {@code modelcache serve} in a
 * child JVM on free ports. Every RPC, raw inputs as Triton's clients send them (little-endian
 * bytes) compared with the answer of {@code POST /inference}, the bearer token as metadata, and a
 * clean SIGTERM. (tritonclient[grpc] is not on this machine's package index; its stubs speak the
 * same service.) Skips where the venv cannot be made.
 */
class GrpcPythonClientTest {
  private static final String TOKEN = "py-grpc-token";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PythonVenv VENV =
      PythonVenv.of(
          "oipgrpc", "import grpc, grpc_tools; print(grpc.__version__)", "grpcio", "grpcio-tools");

  private static final String SCRIPT =
      """
      import json, os, struct, sys, tempfile
      import grpc
      from grpc_tools import protoc
      out = tempfile.mkdtemp()
      proto = os.environ["PROTO_DIR"]
      if protoc.main(["protoc", "-I" + proto, "--python_out=" + out, "--grpc_python_out=" + out,
                      "grpc_predict_v2.proto"]) != 0:
          sys.exit("protoc failed")
      sys.path.insert(0, out)
      import grpc_predict_v2_pb2 as pb
      import grpc_predict_v2_pb2_grpc as rpc

      channel = grpc.insecure_channel("127.0.0.1:" + os.environ["GRPC_PORT"])
      stub = rpc.GRPCInferenceServiceStub(channel)
      auth = [("authorization", "Bearer " + os.environ["TOKEN"])]
      result = {}
      result["live"] = stub.ServerLive(pb.ServerLiveRequest()).live
      result["ready"] = stub.ServerReady(pb.ServerReadyRequest()).ready
      result["model_ready"] = stub.ModelReady(pb.ModelReadyRequest(name="iris")).ready
      server = stub.ServerMetadata(pb.ServerMetadataRequest())
      result["server"] = server.name
      meta = stub.ModelMetadata(pb.ModelMetadataRequest(name="iris"))
      result["inputs"] = [[t.name, t.datatype, list(t.shape)] for t in meta.inputs]
      rows = [[5.1, 3.4, 1.5, 0.2], [7.0, 3.2, 4.7, 1.4]]
      flat = [v for row in rows for v in row]
      request = pb.ModelInferRequest(model_name="iris", id="py-1")
      request.inputs.add(name="input0", datatype="FP32", shape=[2, 4])
      request.raw_input_contents.append(struct.pack("<%df" % len(flat), *flat))
      answer = stub.ModelInfer(request, metadata=auth, timeout=60)
      output = answer.outputs[0]
      count = 1
      for d in output.shape:
          count *= d
      result["id"] = answer.id
      result["shape"] = list(output.shape)
      result["datatype"] = output.datatype
      result["values"] = list(struct.unpack("<%df" % count, answer.raw_output_contents[0]))
      try:
          stub.ModelInfer(request, timeout=60)
          result["no_token"] = "OK"
      except grpc.RpcError as e:
          result["no_token"] = e.code().name
      try:
          stub.ModelMetadata(pb.ModelMetadataRequest(name="nope"))
          result["unknown"] = "OK"
      except grpc.RpcError as e:
          result["unknown"] = e.code().name
      print(json.dumps(result))
      """;

  @TempDir Path tmp;

  @Test
  void pythonGrpcClientGetsTheAnswersOfRestInference() throws Exception {
    Optional<Path> python = VENV.python();
    Assumptions.assumeTrue(python.isPresent(), VENV::reason);
    Path cache = tmp.resolve("cache");
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + cache
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  grpc: {enabled: true, port: 0}\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("sources"))));
    try (ChildDaemon child = ChildDaemon.start(config, Map.of("MODELCACHE_TOKEN", TOKEN))) {
      int port = child.awaitReady(Duration.ofSeconds(120));
      int grpcPort = child.grpcPort();
      PythonVenv.Result run =
          PythonVenv.run(
              python.get(),
              SCRIPT,
              Map.of(
                  "GRPC_PORT",
                  String.valueOf(grpcPort),
                  "TOKEN",
                  TOKEN,
                  "PROTO_DIR",
                  Path.of("src/main/proto").toAbsolutePath().toString()),
              Duration.ofSeconds(120));
      assertThat(run.ok()).as(run.output()).isTrue();
      List<String> lines = run.output().strip().lines().toList();
      JsonNode result = JSON.readTree(lines.get(lines.size() - 1));
      assertThat(result.get("live").asBoolean()).isTrue();
      assertThat(result.get("ready").asBoolean()).isTrue();
      assertThat(result.get("model_ready").asBoolean()).isTrue();
      assertThat(result.get("server").asText()).isEqualTo("modelcache");
      assertThat(result.get("inputs").toString()).isEqualTo("[[\"input0\",\"FP32\",[-1,4]]]");
      assertThat(result.get("id").asText()).isEqualTo("py-1");
      assertThat(result.get("shape").toString()).isEqualTo("[2,3]");
      assertThat(result.get("datatype").asText()).isEqualTo("FP32");
      assertThat(result.get("no_token").asText()).isEqualTo("UNAUTHENTICATED");
      assertThat(result.get("unknown").asText()).isEqualTo("NOT_FOUND");
      JsonNode rest = restInference(port);
      JsonNode values = result.get("values");
      assertThat(values.size()).isEqualTo(6);
      for (int i = 0; i < 6; i++) {
        assertThat(values.get(i).asDouble())
            .isCloseTo(rest.get(i / 3).get(i % 3).asDouble(), within(1e-6));
      }
      child.sigterm();
      assertThat(child.awaitExit(Duration.ofSeconds(60))).isZero();
    }
  }

  private static JsonNode restInference(int port) throws Exception {
    OkHttpClient http = new OkHttpClient.Builder().readTimeout(60, TimeUnit.SECONDS).build();
    Request request =
        new Request.Builder()
            .url("http://127.0.0.1:" + port + "/inference/iris")
            .header("Authorization", "Bearer " + TOKEN)
            .post(
                RequestBody.create(
                    "{\"inputs\": [[5.1, 3.4, 1.5, 0.2], [7.0, 3.2, 4.7, 1.4]]}",
                    MediaType.get("application/json")))
            .build();
    try (Response response = http.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(200);
      return JSON.readTree(response.body().string()).get("outputs");
    }
  }
}
