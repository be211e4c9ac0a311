package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc;
import dev.modelcache.grpc.proto.InferTensorContents;
import dev.modelcache.grpc.proto.ModelInferRequest;
import dev.modelcache.grpc.proto.ModelInferRequest.InferInputTensor;
import dev.modelcache.grpc.proto.ModelInferResponse;
import dev.modelcache.grpc.proto.ServerLiveRequest;
import dev.modelcache.inference.GatedTasks;
import dev.modelcache.inference.task.BuiltInTasks;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daemon stopping with gRPC calls in flight: it takes no new calls, lets the ones it accepted
 * finish within {@code server.shutdown_grace_seconds}, and cancels (and reports) those that outlive
 * it.
 */
class GrpcShutdownTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path tmp;

  private Daemon start(GatedTasks tasks, int graceSeconds) throws Exception {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  shutdown_grace_seconds: "
            + graceSeconds
            + "\n  grpc: {enabled: true, port: 0}\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("sources")));
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    Daemon daemon = Daemon.withTasks(config, Clock.systemUTC(), tasks).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
    return daemon;
  }

  private static ModelInferRequest iris() {
    return ModelInferRequest.newBuilder()
        .setModelName("iris")
        .addInputs(
            InferInputTensor.newBuilder()
                .setName("input0")
                .setDatatype("FP32")
                .addShape(1)
                .addShape(4)
                .setContents(
                    InferTensorContents.newBuilder()
                        .addAllFp32Contents(List.of(5.1f, 3.4f, 1.5f, 0.2f))))
        .build();
  }

  @Test
  void callsInFlightFinishAndNewOnesAreRefused() throws Exception {
    GatedTasks tasks = new GatedTasks(BuiltInTasks.factory(new ObjectMapper()), List.of("iris"));
    Daemon daemon = start(tasks, 20);
    int port = daemon.grpcPort();
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    GatedTasks.Gate gate = tasks.gate("iris");
    try {
      gate.shut();
      Future<ModelInferResponse> inFlight =
          pool.submit(() -> GRPCInferenceServiceGrpc.newBlockingStub(channel).modelInfer(iris()));
      gate.awaitHeld(WAIT);
      Future<Boolean> stopped = pool.submit(daemon::shutdown);
      awaitRefused(port);
      assertThat(stopped).isNotDone(); // still waiting for the call in flight
      gate.open();
      assertThat(inFlight.get(60, TimeUnit.SECONDS).getOutputs(0).getShapeList())
          .containsExactly(1L, 3L);
      assertThat(stopped.get(60, TimeUnit.SECONDS)).isTrue();
    } finally {
      gate.open();
      pool.shutdownNow();
      channel.shutdownNow();
      daemon.close();
    }
  }

  @Test
  void callsOutlivingTheGracePeriodAreCancelled() throws Exception {
    GatedTasks tasks = new GatedTasks(BuiltInTasks.factory(new ObjectMapper()), List.of("iris"));
    Daemon daemon = start(tasks, 1);
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", daemon.grpcPort()).usePlaintext().build();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    GatedTasks.Gate gate = tasks.gate("iris");
    try {
      gate.shut();
      Future<ModelInferResponse> inFlight =
          pool.submit(() -> GRPCInferenceServiceGrpc.newBlockingStub(channel).modelInfer(iris()));
      gate.awaitHeld(WAIT);
      Future<Boolean> stopped = pool.submit(daemon::shutdown);
      Throwable failure = catchThrowable(() -> inFlight.get(60, TimeUnit.SECONDS));
      assertThat(failure).hasCauseInstanceOf(StatusRuntimeException.class);
      assertThat(((StatusRuntimeException) failure.getCause()).getStatus().getCode())
          .isIn(Status.Code.CANCELLED, Status.Code.UNAVAILABLE);
      gate.open(); // the forward pass nobody waits for ends, and the models close
      assertThat(stopped.get(60, TimeUnit.SECONDS)).isFalse();
    } finally {
      gate.open();
      pool.shutdownNow();
      channel.shutdownNow();
      daemon.close();
    }
  }

  /** Waits until a new connection's call is refused (the server stopped taking calls). */
  private static void awaitRefused(int port) throws Exception {
    Poll.until(WAIT, Duration.ofMillis(20), "new gRPC calls to be refused", () -> refused(port));
  }

  private static boolean refused(int port) {
    ManagedChannel fresh =
        ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    try {
      GRPCInferenceServiceGrpc.newBlockingStub(fresh)
          .withDeadlineAfter(5, TimeUnit.SECONDS)
          .serverLive(ServerLiveRequest.getDefaultInstance());
      return false;
    } catch (StatusRuntimeException e) {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      return true;
    } finally {
      fresh.shutdownNow();
    }
  }
}
