package dev.modelcache.inference;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One request waiting in a {@link Batcher}'s queue or being run: its items, how many of them have
 * run, and their outputs so far. Only the worker that holds it (out of the queue) touches {@code
 * done} and {@code outputs}.
 */
final class BatchRequest<I, O> extends CompletableFuture<List<O>> {
  final List<I> items;
  final Object key;
  final long deadline;
  final CompletableFuture<List<O>> result = this;
  final Object[] outputs;
  int done;
  private final BlockingQueue<BatchRequest<I, O>> queue;
  private final AtomicInteger depth;

  /**
   * @param queue the batcher's queue, which a cancelled request leaves
   * @param depth counts the requests in {@code queue}
   */
  BatchRequest(
      List<I> items,
      Object key,
      long deadline,
      BlockingQueue<BatchRequest<I, O>> queue,
      AtomicInteger depth) {
    this.items = items;
    this.key = key;
    this.deadline = deadline;
    this.outputs = new Object[items.size()];
    this.queue = queue;
    this.depth = depth;
  }

  /** Cancelled (its client timed out): out of the queue if it is still there. */
  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    boolean cancelled = super.cancel(mayInterruptIfRunning);
    if (cancelled && queue.remove(this)) {
      depth.decrementAndGet();
    }
    return cancelled;
  }

  /** Its client has its answer (a 504, a failure) or will get a 504: nothing more to run. */
  boolean abandoned(long now) {
    return result.isDone() || now - deadline >= 0;
  }

  int left() {
    return items.size() - done;
  }

  /** Its outputs, in order, once every item has run. */
  @SuppressWarnings("unchecked")
  List<O> allOutputs() {
    return (List<O>) List.of(outputs);
  }

  /** The items {@code [from, to)} of a request, run in one pass. */
  record Slice<I, O>(BatchRequest<I, O> request, int from, int to) {
    List<I> items() {
      return request.items.subList(from, to);
    }

    /**
     * Records the slice's outputs, read from {@code outputs} at {@code at}, in its request.
     *
     * @return where the next slice's outputs start
     */
    int record(List<O> outputs, int at) {
      int next = at;
      for (int i = from; i < to; i++) {
        request.outputs[i] = outputs.get(next++);
      }
      request.done = to;
      return next;
    }
  }
}
