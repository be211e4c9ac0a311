package dev.modelcache.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc;
import dev.modelcache.grpc.proto.ModelInferRequest;
import dev.modelcache.grpc.proto.ModelInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class GrpcLoadTest {
  @Test
  void percentileIsTheNearestRank() {
    long[] hundred = new long[100];
    for (int i = 0; i < hundred.length; i++) {
      hundred[i] = i + 1;
    }
    assertThat(GrpcLoad.percentile(hundred, 0.50)).isEqualTo(50);
    assertThat(GrpcLoad.percentile(hundred, 0.99)).isEqualTo(99);
    assertThat(GrpcLoad.percentile(hundred, 1.0)).isEqualTo(100);
    assertThat(GrpcLoad.percentile(new long[] {7}, 0.99)).isEqualTo(7);
    assertThat(GrpcLoad.percentile(new long[] {3, 9}, 0.50)).isEqualTo(3);
    assertThat(GrpcLoad.percentile(new long[0], 0.50)).isZero();
  }

  @Test
  void resultSortsNanosAndPrintsTheLineThePeersBenchParses() {
    long[] nanos = new long[200];
    for (int i = 0; i < nanos.length; i++) {
      nanos[i] = (nanos.length - i) * 10_000L; // 2 ms down to 10 µs, unsorted on purpose
    }
    GrpcLoad.Result result = GrpcLoad.Result.of(nanos, 2_000_000_000L, 3);

    assertThat(result.line())
        .isEqualTo("RESULT requests=200 seconds=2.000000 p50_us=1000 p99_us=1980 errors=3");
    PeersBench.Result parsed = PeersBench.parse("noise\n" + result.line() + "\n", "GrpcLoad");
    assertThat(parsed).isEqualTo(new PeersBench.Result(200, 100.0, 1.0, 1.98, 3));
  }

  @Test
  void closedLoopCountsAnswersAndFailures() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(
                new GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase() {
                  @Override
                  public void modelInfer(
                      ModelInferRequest request, StreamObserver<ModelInferResponse> answer) {
                    if (calls.incrementAndGet() % 10 == 0) {
                      answer.onError(
                          Status.UNAVAILABLE.withDescription("queue full").asException());
                      return;
                    }
                    answer.onNext(
                        ModelInferResponse.newBuilder()
                            .setModelName(request.getModelName())
                            .build());
                    answer.onCompleted();
                  }
                })
            .build()
            .start();
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    try {
      GrpcLoad.Result result =
          GrpcLoad.run(
              channel,
              GrpcLoad.irisRequest("iris", 5.1f, 3.4f, 1.5f, 0.2f),
              4,
              Duration.ofMillis(300));

      assertThat(result.requests()).isPositive().isEqualTo(calls.get());
      assertThat(result.errors()).isEqualTo(calls.get() / 10);
      assertThat(result.seconds()).isBetween(0.3, 30.0);
      assertThat(result.p99Micros()).isGreaterThanOrEqualTo(result.p50Micros()).isPositive();
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void requestsCarryRawLittleEndianContents() {
    ModelInferRequest iris = GrpcLoad.irisRequest("iris", 5.1f, 3.4f, 1.5f, 0.2f);
    assertThat(iris.getInputs(0).getShapeList()).containsExactly(1L, 4L);
    assertThat(iris.getInputs(0).getDatatype()).isEqualTo("FP32");
    ByteBuffer raw =
        iris.getRawInputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(raw.getFloat(0)).isEqualTo(5.1f);
    assertThat(raw.getFloat(12)).isEqualTo(0.2f);

    ModelInferRequest text = GrpcLoad.textRequest("minilm", "héllo");
    assertThat(text.getInputs(0).getDatatype()).isEqualTo("BYTES");
    ByteBuffer bytes =
        text.getRawInputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(bytes.getInt(0)).isEqualTo(6); // é is two bytes of UTF-8
    assertThat(text.getRawInputContents(0).size()).isEqualTo(10);
  }
}
