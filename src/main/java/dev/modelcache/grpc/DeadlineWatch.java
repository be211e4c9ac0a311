package dev.modelcache.grpc;

import io.grpc.Context;
import java.util.concurrent.CancellationException;
import java.util.function.Supplier;

/**
 * Runs a blocking call (a wait for a model's answer) so that it ends when the gRPC call's context
 * is cancelled, by its deadline or by the client: the waiting thread is interrupted, which gives
 * the model's queue its slot back, instead of running on for nobody.
 *
 * <pre>{@code
 * V2Answer answer = DeadlineWatch.run(() -> registry.inferV2(model, null, inputs));
 * }</pre>
 */
final class DeadlineWatch implements Context.CancellationListener {
  private final Thread thread;
  private boolean done; // guarded by this

  private DeadlineWatch(Thread thread) {
    this.thread = thread;
  }

  static <T> T run(Supplier<T> body) {
    Context context = Context.current();
    if (context.isCancelled()) {
      // the caller answers DEADLINE_EXCEEDED or CANCELLED by the context
      throw new CancellationException("the call ended before its model was asked");
    }
    DeadlineWatch watch = new DeadlineWatch(Thread.currentThread());
    // Runs on the thread that cancels (the deadline timer, the transport), not on this one.
    context.addListener(watch, Runnable::run);
    try {
      return body.get();
    } finally {
      context.removeListener(watch);
      watch.finish();
    }
  }

  @Override
  public synchronized void cancelled(Context context) {
    if (!done) {
      thread.interrupt();
    }
  }

  /** No interrupt after this; one that came after the body returned is cleared. */
  private synchronized void finish() {
    done = true;
    Thread.interrupted(); // this thread goes back to the call executor with its flag clear
  }
}
