package dev.modelcache.inference;

import ai.djl.inference.Predictor;
import dev.modelcache.inference.BatchRequest.Slice;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.threads.NamedThreads;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The requests of one loaded model: a bounded queue and {@code workers} threads that share {@code
 * workers} {@link Predictor}s (one per pass: a predictor is not thread-safe) in a {@link
 * PredictorPool}.
 *
 * <p>A worker takes the oldest request, then gathers more (up to {@code batch.max_size} items, for
 * at most {@code batch.max_delay_ms} after the first; only what is already queued when the delay is
 * 0, or when no other request was queued or being read as it took the first: a lone request never
 * waits for company that is not coming) whose items may share its forward pass ({@link
 * BatchKeyed}), runs them as one {@link Predictor#predict} call, and completes each request with
 * its own outputs. No pass holds more than {@code max_size} items: a request with more runs in
 * chunks of {@code max_size}, and after each chunk it goes back to the end of the queue, so that
 * chunks of different requests take turns and one client's giant request cannot make the others
 * time out. A request whose deadline has passed (its client got 504) is dropped before its next
 * chunk, so it does not hold a worker any longer. When a batch of several requests fails, each runs
 * again alone, so that one bad request fails only itself.
 *
 * <p>A small model's request runs inline on the caller's thread, with an idle predictor, when
 * nothing is queued: no hand-off. An inline pass cannot be cut short: when it ends past the
 * deadline, the request is cancelled (a 504). {@code batcher.submit(items, deadline)} gives the
 * future outputs, or throws {@link QueueFullException}.
 */
final class Batcher<I, O> implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Batcher.class);
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

  private final String model;
  private final Task<I, O> task;
  private final int maxItems;
  private final long maxDelayNanos;
  private final int capacity;
  // unbounded: submit() bounds new requests by capacity; a request between two of its chunks
  // always goes back in
  private final BlockingQueue<BatchRequest<I, O>> queue = new LinkedBlockingQueue<>();
  private final AtomicInteger depth;
  private final Metrics metrics;
  private final LongSupplier nanoClock;
  private final List<Thread> threads = new ArrayList<>();
  private final PredictorPool<I, O> predictors;
  // requests for this model being read and parsed (tokenized) on their callers' threads, not yet
  // submitted: company on its way, which a worker holding a lone request waits for
  private final AtomicInteger arriving = new AtomicInteger();
  private volatile boolean closed;

  /**
   * Starts one thread per predictor; the batcher owns and closes the predictors.
   *
   * @param depth counts the requests in the queue (the queue-depth gauge)
   * @param nanoClock what deadlines and the batching delay are read against ({@link
   *     System#nanoTime} but in tests)
   */
  Batcher(
      String model,
      Task<I, O> task,
      List<Predictor<List<I>, List<O>>> predictors,
      int maxItems,
      Duration maxDelay,
      int capacity,
      AtomicInteger depth,
      Metrics metrics,
      LongSupplier nanoClock) {
    this.model = model;
    this.task = task;
    this.maxItems = maxItems;
    this.maxDelayNanos = maxDelay.toNanos();
    this.capacity = capacity;
    this.depth = depth;
    this.metrics = metrics;
    this.nanoClock = nanoClock;
    this.predictors = new PredictorPool<>(predictors);
    NamedThreads workers = NamedThreads.numbered("modelcache-" + model + "-worker", 0);
    for (int i = 0; i < predictors.size(); i++) {
      threads.add(workers.newThread(this::work));
    }
    threads.forEach(Thread::start);
  }

  /**
   * Counts a request for this model whose body is being read and parsed (+1), until it is submitted
   * or has failed (-1): while one is, a worker that took a lone request waits (up to the delay) for
   * it.
   */
  void arriving(int delta) {
    arriving.addAndGet(delta);
  }

  /** The most items one forward pass holds. */
  int maxItems() {
    return maxItems;
  }

  /**
   * Queues {@code items}; the future completes with their outputs, in order, or with the failure.
   * Cancelling it (a timed-out request) takes the request out of the queue if it is still there;
   * after {@code deadline} (on the batcher's nano clock) no more of its items are run.
   *
   * @throws QueueFullException at once when {@code queue} requests are already waiting
   */
  CompletableFuture<List<O>> submit(List<I> items, long deadline) {
    if (closed) {
      throw new ModelNotReadyException(model + " is shutting down");
    }
    BatchRequest<I, O> request =
        new BatchRequest<>(
            List.copyOf(items), BatchKeyed.keyOf(task, items), deadline, queue, depth);
    if (inline(request)) {
      return request;
    }
    if (depth.incrementAndGet() > capacity) {
      depth.decrementAndGet();
      throw new QueueFullException(
          model
              + " - the queue is full ("
              + capacity
              + " requests waiting for "
              + threads.size()
              + " worker(s)); retry shortly, or raise the model's queue or workers");
    }
    queue.add(request);
    if (closed && queue.remove(request)) {
      // stop() may have emptied the queue already: nothing would ever take it
      depth.decrementAndGet();
      throw shuttingDown();
    }
    return request; // cancel() takes it out of the queue: no completion stage per request
  }

  /**
   * Runs {@code request} here (complete, failed or cancelled past its deadline) when the model is
   * small, nothing is queued and a predictor is free with no worker waiting for one; else false.
   */
  private boolean inline(BatchRequest<I, O> request) {
    if (!predictors.small() || request.items.size() > maxItems || !queue.isEmpty()) {
      return false;
    }
    Predictor<List<I>, List<O>> predictor = predictors.tryTake();
    if (predictor == null) {
      return false;
    }
    try {
      run(predictor, List.of(new Slice<>(request, 0, request.items.size())));
    } finally {
      predictors.give(predictor);
    }
    if (!request.result.isDone()) {
      if (nanoClock.getAsLong() - request.deadline >= 0) {
        request.cancel(false); // the pass ended past the deadline: a 504, as from a worker
      } else {
        request.result.complete(request.allOutputs());
      }
    }
    return true;
  }

  private void work() {
    MDC.put("model", model);
    BatchRequest<I, O> carried = null;
    List<Slice<I, O>> batch = new ArrayList<>();
    try {
      while (!closed) {
        BatchRequest<I, O> first = carried != null ? carried : queue.take();
        if (carried == null) {
          depth.decrementAndGet();
        }
        carried = null;
        if (first.abandoned(nanoClock.getAsLong())) {
          continue; // timed out while it waited: its client has (or gets) its 504
        }
        carried = first; // failed as shutting down if the wait for a permit is interrupted
        Predictor<List<I>, List<O>> predictor = predictors.take();
        carried = null;
        batch = new ArrayList<>();
        try {
          carried = gatherAndRun(predictor, first, batch);
        } finally {
          predictors.give(predictor);
        }
        finish(batch); // the predictor is back first: the next inline run need not wait for it
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // closing
    } finally {
      if (carried != null) {
        carried.result.completeExceptionally(shuttingDown());
      }
      failTaken(batch);
    }
  }

  /**
   * Gathers into {@code batch} what may share {@code first}'s pass and runs it; returns a request
   * taken that could not share the pass (it starts the worker's next batch), or null.
   */
  private @Nullable BatchRequest<I, O> gatherAndRun(
      Predictor<List<I>, List<O>> predictor, BatchRequest<I, O> first, List<Slice<I, O>> batch)
      throws InterruptedException {
    BatchRequest<I, O> carried = null;
    int items = Math.min(first.left(), maxItems);
    batch.add(new Slice<>(first, first.done, first.done + items));
    // alone: no other request waits and none is being read, so none is on its way to share the
    // pass (at concurrency 1 the delay would be pure latency): run it with only what is already
    // queued. One being read (a client of the last pass sending its next request) is coming: a
    // pass started at once would hold only the first of them (MiniLM at c=32: 16, 1, 15, 1...)
    boolean alone = queue.isEmpty() && arriving.get() == 0;
    long until = nanoClock.getAsLong() + (alone ? 0 : maxDelayNanos);
    while (items < maxItems) {
      long left = until - nanoClock.getAsLong();
      BatchRequest<I, O> next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
      if (next == null) {
        break;
      }
      depth.decrementAndGet();
      if (next.abandoned(nanoClock.getAsLong())) {
        continue;
      }
      if (!next.key.equals(first.key)) {
        carried = next; // starts this worker's next batch
        break;
      }
      int take = Math.min(next.left(), maxItems - items);
      batch.add(new Slice<>(next, next.done, next.done + take));
      items += take;
    }
    run(predictor, batch);
    return carried;
  }

  /** Completes each request of a pass that has all its outputs, or queues its next chunk. */
  private void finish(List<Slice<I, O>> batch) {
    for (Slice<I, O> slice : batch) {
      BatchRequest<I, O> request = slice.request();
      if (request.result.isDone()) {
        continue;
      }
      if (request.left() == 0) {
        request.result.complete(request.allOutputs());
      } else if (!request.abandoned(nanoClock.getAsLong())) {
        depth.incrementAndGet(); // its next chunk, after the requests queued meanwhile
        queue.add(request);
      }
    }
  }

  /**
   * Fails the requests a worker took off the queue to gather a batch when the close interrupted it:
   * stop() fails only those still queued, so these would wait for their timeout.
   */
  private void failTaken(List<Slice<I, O>> batch) {
    for (Slice<I, O> slice : batch) {
      slice.request().result.completeExceptionally(shuttingDown());
    }
  }

  /** Runs the slices in one pass and records each one's outputs in its request. */
  private void run(Predictor<List<I>, List<O>> predictor, List<Slice<I, O>> batch) {
    List<I> items;
    if (batch.size() == 1) {
      items = batch.get(0).items(); // a view: no copy of a lone request's items
    } else {
      items = new ArrayList<>();
      batch.forEach(slice -> items.addAll(slice.items()));
    }
    List<O> outputs;
    long start = nanoClock.getAsLong();
    try {
      outputs = predictor.predict(items);
      if (batch.size() == 1) {
        predictors.lonePass(nanoClock.getAsLong() - start);
      }
      if (outputs.size() != items.size()) {
        throw new IllegalStateException(
            model
                + " - the "
                + task.name()
                + " translator returned "
                + outputs.size()
                + " outputs for "
                + items.size()
                + " items");
      }
    } catch (Exception e) {
      failed(predictor, batch, e);
      return;
    } catch (Error e) {
      log.error("{} - a worker stops: {}", model, e.toString());
      batch.forEach(slice -> slice.request().result.completeExceptionally(e));
      throw e;
    } finally {
      metrics.batch(model, batch.size());
    }
    int from = 0;
    for (Slice<I, O> slice : batch) {
      from = slice.record(outputs, from);
    }
  }

  /**
   * Fails the requests of a pass that threw {@code e}: as shutting down when closing, else a lone
   * request with {@code e}, else each request of the batch runs again alone.
   */
  private void failed(Predictor<List<I>, List<O>> predictor, List<Slice<I, O>> batch, Exception e) {
    if (closed) {
      // the close interrupted the pass, or closed what it used: the request is not at fault,
      // nor is modelcache; its client may retry elsewhere (503), not report a bug (500)
      ModelNotReadyException stopping = new ModelNotReadyException(model + " is shutting down", e);
      batch.forEach(slice -> slice.request().result.completeExceptionally(stopping));
    } else if (batch.size() == 1) {
      batch.get(0).request().result.completeExceptionally(e);
    } else {
      log.debug(
          "{} - a batch of {} requests failed ({}); running each alone",
          model,
          batch.size(),
          ModelRegistry.firstLine(e));
      for (Slice<I, O> slice : batch) {
        if (!slice.request().result.isDone()) {
          run(predictor, List.of(slice));
        }
      }
    }
  }

  private ModelNotReadyException shuttingDown() {
    return new ModelNotReadyException(model + " is shutting down");
  }

  /**
   * Stops the workers (a forward pass under way finishes first), fails what is still queued, and
   * closes the predictors.
   */
  @Override
  public void close() {
    stop();
  }

  /**
   * {@link #close()}, telling whether every worker stopped within the wait: one that did not is
   * still inside a forward pass, whose model must then stay open (closing it under the pass crashes
   * the engine's native code, and the JVM with it).
   */
  boolean stop() {
    closed = true;
    threads.forEach(Thread::interrupt);
    for (Thread thread : threads) {
      try {
        thread.join(CLOSE_WAIT.toMillis());
        if (thread.isAlive()) {
          log.warn(
              "{} - worker {} still runs {} s after close",
              model,
              thread.getName(),
              CLOSE_WAIT.toSeconds());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    BatchRequest<I, O> left;
    while ((left = queue.poll()) != null) {
      depth.decrementAndGet();
      left.result.completeExceptionally(shuttingDown());
    }
    // an inline pass may still run on a caller's thread: closing its predictor under it would crash
    boolean idle = threads.stream().noneMatch(Thread::isAlive) && predictors.close(CLOSE_WAIT);
    if (!idle) {
      log.warn("{} - a pass still runs {} s after close", model, CLOSE_WAIT.toSeconds());
    }
    return idle;
  }
}
