package dev.modelcache.bench;

import com.google.protobuf.ByteString;
import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc;
import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc.GRPCInferenceServiceStub;
import dev.modelcache.grpc.proto.ModelInferRequest;
import dev.modelcache.grpc.proto.ModelInferRequest.InferInputTensor;
import dev.modelcache.grpc.proto.ModelInferResponse;
import dev.modelcache.grpc.proto.ServerReadyRequest;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The gRPC load generator of the peers table: {@code wrk} speaks HTTP/1.1 only, so the row {@code
 * modelcache gRPC ModelInfer} gets this, in a JVM of its own (never the daemon's). A closed loop of
 * {@code concurrency} clients over one channel (one HTTP/2 connection, as gRPC clients share one),
 * each sending its next {@code ModelInfer} when the last is answered, for one warm-up phase and
 * then one measured phase. It prints the line {@code bench/peers/wrk.lua} prints, so {@link
 * PeersBench} reads both the same way:
 *
 * <pre>
 * java -cp ... dev.modelcache.bench.GrpcLoad 127.0.0.1:8081 request.bin 32 10 [warm-up seconds]
 * RESULT requests=51234 seconds=10.000412 p50_us=577 p99_us=1893 errors=0
 * </pre>
 *
 * <p>{@code request.bin} is one serialised {@code ModelInferRequest} ({@link #irisRequest}, {@link
 * #textRequest}); errors are calls that ended with any status but OK (a 10 s deadline each).
 */
public final class GrpcLoad {
  private static final Duration DEADLINE = Duration.ofSeconds(10);

  private GrpcLoad() {}

  /** The figures of one phase; latencies in microseconds, as {@code wrk} reports them. */
  record Result(long requests, double seconds, long p50Micros, long p99Micros, long errors) {
    /** The line {@code wrk.lua} prints, which {@link PeersBench} parses. */
    String line() {
      return String.format(
          Locale.ROOT,
          "RESULT requests=%d seconds=%.6f p50_us=%d p99_us=%d errors=%d",
          requests,
          seconds,
          p50Micros,
          p99Micros,
          errors);
    }

    /** The figures of latencies in nanoseconds (in any order) over {@code elapsed} nanoseconds. */
    static Result of(long[] nanos, long elapsed, long errors) {
      long[] sorted = nanos.clone();
      Arrays.sort(sorted);
      return new Result(
          sorted.length,
          elapsed / 1e9,
          percentile(sorted, 0.50) / 1000,
          percentile(sorted, 0.99) / 1000,
          errors);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println(
          "usage: GrpcLoad HOST:PORT REQUEST_FILE CONCURRENCY SECONDS [WARM_UP_SECONDS, default 1]");
      System.exit(2);
    }
    String[] hostPort = args[0].split(":", 2);
    ModelInferRequest request = ModelInferRequest.parseFrom(Files.readAllBytes(Path.of(args[1])));
    int concurrency = Integer.parseInt(args[2]);
    Duration phase = Duration.ofMillis((long) (Double.parseDouble(args[3]) * 1000));
    Duration warmUp =
        Duration.ofMillis((long) (Double.parseDouble(args.length > 4 ? args[4] : "1") * 1000));
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress(hostPort[0], Integer.parseInt(hostPort[1]))
            .usePlaintext()
            .build();
    try {
      awaitReady(channel, Duration.ofSeconds(30));
      run(channel, request, concurrency, warmUp);
      System.out.println(run(channel, request, concurrency, phase).line());
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  /** One closed-loop phase: {@code concurrency} calls in flight until {@code phase} has passed. */
  static Result run(Channel channel, ModelInferRequest request, int concurrency, Duration phase)
      throws InterruptedException {
    GRPCInferenceServiceStub stub = GRPCInferenceServiceGrpc.newStub(channel);
    CountDownLatch done = new CountDownLatch(concurrency);
    long start = System.nanoTime();
    long end = start + phase.toNanos();
    List<Client> clients = new ArrayList<>();
    for (int i = 0; i < concurrency; i++) {
      Client client = new Client(stub, request, end, done);
      clients.add(client);
      client.next();
    }
    if (!done.await(phase.plus(DEADLINE).plusSeconds(30).toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("gRPC calls still unanswered 40 s after the phase ended");
    }
    long elapsed = System.nanoTime() - start;
    long errors = 0;
    int count = 0;
    for (Client client : clients) {
      synchronized (client) {
        count += client.count;
        errors += client.errors;
      }
    }
    long[] all = new long[count];
    int at = 0;
    for (Client client : clients) {
      synchronized (client) {
        System.arraycopy(client.nanos, 0, all, at, client.count);
        at += client.count;
        if (client.firstError != null) {
          System.err.println("GrpcLoad: first failed call: " + client.firstError);
        }
      }
    }
    return Result.of(all, elapsed, errors);
  }

  /**
   * The nearest-rank percentile of sorted values: the smallest value that at least {@code q} of
   * them do not exceed; 0 for none.
   */
  static long percentile(long[] sorted, double q) {
    if (sorted.length == 0) {
      return 0;
    }
    int rank = (int) Math.ceil(q * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  /** One FP32 row of 4 for iris, raw (little-endian), as {@code tritonclient.grpc} sends it. */
  static ModelInferRequest irisRequest(String model, float... row) {
    ByteBuffer bytes = ByteBuffer.allocate(row.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : row) {
      bytes.putFloat(v);
    }
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .addInputs(
            InferInputTensor.newBuilder()
                .setName("input0")
                .setDatatype("FP32")
                .addShape(1)
                .addShape(row.length))
        .addRawInputContents(ByteString.copyFrom(bytes.flip()))
        .build();
  }

  /** One text as a BYTES tensor of shape [1], raw (a 4-byte little-endian length, the UTF-8). */
  static ModelInferRequest textRequest(String model, String text) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    ByteBuffer bytes = ByteBuffer.allocate(4 + utf8.length).order(ByteOrder.LITTLE_ENDIAN);
    bytes.putInt(utf8.length).put(utf8);
    return ModelInferRequest.newBuilder()
        .setModelName(model)
        .addInputs(InferInputTensor.newBuilder().setName("text").setDatatype("BYTES").addShape(1))
        .addRawInputContents(ByteString.copyFrom(bytes.flip()))
        .build();
  }

  /** Polls {@code ServerReady} until it answers ready (the port opens with the HTTP one). */
  private static void awaitReady(ManagedChannel channel, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      try {
        if (GRPCInferenceServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(2, TimeUnit.SECONDS)
            .serverReady(ServerReadyRequest.getDefaultInstance())
            .getReady()) {
          return;
        }
        last = "ServerReady: ready false";
      } catch (StatusRuntimeException e) {
        last = e.getStatus().toString();
      }
      Thread.sleep(100); // polling another process for readiness, not synchronising threads
    }
    throw new IllegalStateException("the gRPC server not ready in " + timeout + ": " + last);
  }

  /** One client of the closed loop: its next call starts when its last one has ended. */
  private static final class Client implements StreamObserver<ModelInferResponse> {
    private final GRPCInferenceServiceStub stub;
    private final ModelInferRequest request;
    private final long end;
    private final CountDownLatch done;
    private long[] nanos = new long[1024];
    private int count;
    private long errors;
    private long sent;
    private String firstError;

    Client(
        GRPCInferenceServiceStub stub, ModelInferRequest request, long end, CountDownLatch done) {
      this.stub = stub;
      this.request = request;
      this.end = end;
      this.done = done;
    }

    /** The next call, or the end of this client once the phase has passed. */
    synchronized void next() {
      long now = System.nanoTime();
      if (now - end >= 0) {
        done.countDown();
        return;
      }
      sent = now;
      // the stub's default executor runs the callbacks, never this thread: a call that fails
      // at once cannot recurse into next()
      stub.withDeadlineAfter(DEADLINE.toMillis(), TimeUnit.MILLISECONDS).modelInfer(request, this);
    }

    @Override
    public void onNext(ModelInferResponse response) {}

    @Override
    public void onError(Throwable t) {
      synchronized (this) {
        errors++;
        if (firstError == null) {
          firstError = Status.fromThrowable(t).toString();
        }
        record();
      }
      next();
    }

    @Override
    public void onCompleted() {
      synchronized (this) {
        record();
      }
      next();
    }

    private void record() {
      if (count == nanos.length) {
        nanos = Arrays.copyOf(nanos, count * 2);
      }
      nanos[count++] = System.nanoTime() - sent;
    }
  }
}
