package dev.modelcache.grpc;

import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc;
import dev.modelcache.grpc.proto.ModelInferRequest;
import dev.modelcache.grpc.proto.ModelInferResponse;
import dev.modelcache.grpc.proto.ModelMetadataRequest;
import dev.modelcache.grpc.proto.ModelMetadataResponse;
import dev.modelcache.grpc.proto.ModelMetadataResponse.TensorMetadata;
import dev.modelcache.grpc.proto.ModelReadyRequest;
import dev.modelcache.grpc.proto.ModelReadyResponse;
import dev.modelcache.grpc.proto.ServerLiveRequest;
import dev.modelcache.grpc.proto.ServerLiveResponse;
import dev.modelcache.grpc.proto.ServerMetadataRequest;
import dev.modelcache.grpc.proto.ServerMetadataResponse;
import dev.modelcache.grpc.proto.ServerReadyRequest;
import dev.modelcache.grpc.proto.ServerReadyResponse;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.MemoryBudget;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.inference.ModelRegistry.V2Metadata;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.inference.V2Tensor;
import dev.modelcache.metrics.Metrics;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * {@code inference.GRPCInferenceService} of KServe's {@code grpc_predict_v2.proto} on the models of
 * a {@link ModelRegistry}: the same models, queues, batching, timeouts and metrics as the REST
 * routes of {@code /v2}. {@code ModelInfer} first reserves its estimated heap in the {@link
 * MemoryBudget} that HTTP requests share, and stops waiting when the call's deadline passes.
 */
final class InferenceService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
  private final ServerConfig server;
  private final ModelRegistry registry;
  private final ModelStates states;
  private final MemoryBudget budget;
  private final Metrics metrics;

  InferenceService(
      ServerConfig server,
      ModelRegistry registry,
      ModelStates states,
      MemoryBudget budget,
      Metrics metrics) {
    this.server = server;
    this.registry = registry;
    this.states = states;
    this.budget = budget;
    this.metrics = metrics;
  }

  @Override
  public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> out) {
    answer(out, "ServerLive", () -> ServerLiveResponse.newBuilder().setLive(true).build());
  }

  @Override
  public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> out) {
    answer(
        out,
        "ServerReady",
        () -> ServerReadyResponse.newBuilder().setReady(states.ready()).build());
  }

  @Override
  public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> out) {
    answer(
        out,
        "ModelReady",
        () -> {
          String model = model(request.getName(), "name");
          boolean ready = registry.isReady(model);
          if (ready && !request.getVersion().isEmpty()) {
            registry.v2Metadata(model, request.getVersion()); // NOT_FOUND for another version
          }
          return ModelReadyResponse.newBuilder().setReady(ready).build();
        });
  }

  @Override
  public void serverMetadata(
      ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> out) {
    String version = InferenceService.class.getPackage().getImplementationVersion();
    answer(
        out,
        "ServerMetadata",
        () ->
            ServerMetadataResponse.newBuilder()
                .setName("modelcache")
                .setVersion(version == null ? "dev" : version)
                .build());
  }

  @Override
  public void modelMetadata(
      ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> out) {
    answer(
        out,
        "ModelMetadata",
        () -> {
          String model = model(request.getName(), "name");
          V2Metadata metadata = registry.v2Metadata(model, version(request.getVersion()));
          return ModelMetadataResponse.newBuilder()
              .setName(metadata.name())
              .addVersions(metadata.revision())
              .setPlatform(metadata.platform())
              .addAllInputs(specs(metadata.inputs()))
              .addAllOutputs(specs(metadata.outputs()))
              .build();
        });
  }

  private static List<TensorMetadata> specs(List<V2Tensor.Spec> specs) {
    return specs.stream()
        .map(
            s ->
                TensorMetadata.newBuilder()
                    .setName(s.name())
                    .setDatatype(s.datatype())
                    .addAllShape(Arrays.stream(s.shape()).boxed().toList())
                    .build())
        .toList();
  }

  @Override
  public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> out) {
    // No onNext after a cancel: without a handler the stub would throw there.
    ((ServerCallStreamObserver<ModelInferResponse>) out).setOnCancelHandler(() -> {});
    answer(
        out,
        "ModelInfer",
        () -> {
          String model = model(request.getModelName(), "model_name");
          MemoryBudget.Permit permit = admit(model, request.getSerializedSize());
          try {
            List<V2Tensor> inputs = InferMessages.inputs(request);
            V2Answer answer =
                DeadlineWatch.run(
                    () -> registry.inferV2(model, version(request.getModelVersion()), inputs));
            return InferMessages.response(model, request, answer);
          } finally {
            permit.close();
          }
        });
  }

  /**
   * Reserves the estimated heap of a request of {@code bytes} (its size times {@code
   * server.limits.body_expansion}, as for HTTP bodies): RESOURCE_EXHAUSTED when it could never fit,
   * UNAVAILABLE while the requests in flight hold the budget.
   */
  private MemoryBudget.Permit admit(String model, long bytes) {
    long cost = Math.max(bytes, 1024) * server.limits().bodyExpansion();
    if (cost > budget.capacity()) {
      metrics.rejected(Metrics.Rejection.TOO_LARGE);
      throw Status.RESOURCE_EXHAUSTED
          .withDescription(
              model
                  + " - this request of "
                  + bytes
                  + " bytes needs an estimated "
                  + mib(cost)
                  + " of heap (x server.limits.body_expansion "
                  + server.limits().bodyExpansion()
                  + "), more than the whole budget for requests in flight ("
                  + mib(budget.capacity())
                  + ", server.limits.memory_percent of the heap); send fewer inputs per request")
          .asRuntimeException();
    }
    MemoryBudget.Permit permit = budget.tryAcquire(cost);
    if (permit == null) {
      metrics.rejected(Metrics.Rejection.MEMORY);
      throw Status.UNAVAILABLE
          .withDescription(
              model
                  + " - the requests in flight hold an estimated "
                  + mib(budget.used())
                  + " of the "
                  + mib(budget.capacity())
                  + " budget for requests in flight and this one needs "
                  + mib(cost)
                  + "; retry shortly, or raise server.limits.memory_percent or the heap")
          .asRuntimeException();
    }
    return permit;
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
  }

  /** A model name from a request, or INVALID_ARGUMENT when it is empty. */
  private static String model(String name, String field) {
    if (name.isEmpty()) {
      throw new InvalidInputException(
          "'" + field + "' is empty; name one of the configured models (GET /models lists them)");
    }
    return name;
  }

  /** The version a request names: null for the empty string (the one served). */
  private static @Nullable String version(String version) {
    return version.isEmpty() ? null : version;
  }

  /** Answers {@code body}'s message, or the status of what it threw. */
  private static <T> void answer(StreamObserver<T> out, String method, Supplier<T> body) {
    T message;
    try {
      message = body.get();
    } catch (io.grpc.StatusRuntimeException e) {
      out.onError(e);
      return;
    } catch (RuntimeException e) {
      out.onError(statusOf(e, method).asRuntimeException());
      return;
    }
    out.onNext(message);
    out.onCompleted();
  }

  /**
   * The status of a failure; once the call's deadline passed (the model's wait was cut short) or
   * the client cancelled, that is the status, whatever the failure says.
   */
  private static Status statusOf(RuntimeException e, String method) {
    Context context = Context.current();
    if (context.isCancelled()) {
      Deadline deadline = context.getDeadline();
      return deadline != null && deadline.isExpired()
          ? Status.DEADLINE_EXCEEDED.withDescription(
              method + " - the call's deadline passed before the model answered")
          : Status.CANCELLED.withDescription(method + " - cancelled by the client");
    }
    return GrpcErrors.status(e, method);
  }
}
