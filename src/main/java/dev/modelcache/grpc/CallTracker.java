package dev.modelcache.grpc;

import dev.modelcache.metrics.Metrics;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the calls in flight (what a graceful stop waits for) and each finished call by method and
 * status code ({@code modelcache_grpc_requests_total}); a call the client cancelled, or whose
 * deadline passed, counts as CANCELLED or DEADLINE_EXCEEDED.
 */
final class CallTracker implements ServerInterceptor {
  private final Metrics metrics;
  private final AtomicInteger active = new AtomicInteger();

  CallTracker(Metrics metrics) {
    this.metrics = metrics;
  }

  int active() {
    return active.get();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getBareMethodName();
    AtomicBoolean ended = new AtomicBoolean();
    active.incrementAndGet();
    ServerCall<Q, R> tracked =
        new SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            end(ended, method, status.getCode().name());
            super.close(status, trailers);
          }
        };
    ServerCall.Listener<Q> listener;
    try {
      listener = next.startCall(tracked, headers);
    } catch (RuntimeException e) {
      end(ended, method, Status.Code.UNKNOWN.name());
      throw e;
    }
    return new SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        Deadline deadline = Context.current().getDeadline();
        end(
            ended,
            method,
            deadline != null && deadline.isExpired()
                ? Status.Code.DEADLINE_EXCEEDED.name()
                : Status.Code.CANCELLED.name());
        super.onCancel();
      }

      @Override
      public void onComplete() {
        end(ended, method, Status.Code.OK.name()); // counted at close already: a no-op then
        super.onComplete();
      }
    };
  }

  private void end(AtomicBoolean ended, String method, String code) {
    if (ended.compareAndSet(false, true)) {
      active.decrementAndGet();
      metrics.grpcCall(method, code);
    }
  }
}
