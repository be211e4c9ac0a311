package dev.modelcache.inference;

import ai.djl.inference.Predictor;
import dev.modelcache.metrics.Metrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The requests of one loaded model: a bounded queue and {@code workers} threads, each with its own
 * {@link Predictor} over the model's one copy of the weights (a predictor is not thread-safe).
 *
 * <p>A worker takes the oldest request, then gathers more (up to {@code batch.max_size} items, for
 * at most {@code batch.max_delay_ms} after the first; only what is already queued when the delay is
 * 0) whose items may share its forward pass ({@link BatchKeyed}), runs them as one {@link
 * Predictor#predict} call, and completes each request with its own outputs. A request is never
 * split: one with more items than {@code max_size} runs alone. When a batch of several requests
 * fails, each runs again alone, so that one bad request fails only itself.
 *
 * <pre>{@code
 * CompletableFuture<List<O>> outputs = batcher.submit(items); // QueueFullException when full
 * }</pre>
 */
final class Batcher<I, O> implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Batcher.class);
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

  private final String model;
  private final Task<I, O> task;
  private final int maxItems;
  private final long maxDelayNanos;
  private final BlockingQueue<Request<I, O>> queue;
  private final AtomicInteger depth;
  private final Metrics metrics;
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean closed;

  /** One request waiting in the queue or being run. */
  private record Request<I, O>(List<I> items, Object key, CompletableFuture<List<O>> result) {}

  /**
   * Starts one thread per predictor; the batcher owns and closes the predictors.
   *
   * @param depth counts the requests in the queue (the queue-depth gauge)
   */
  Batcher(
      String model,
      Task<I, O> task,
      List<Predictor<List<I>, List<O>>> predictors,
      int maxItems,
      Duration maxDelay,
      int capacity,
      AtomicInteger depth,
      Metrics metrics) {
    this.model = model;
    this.task = task;
    this.maxItems = maxItems;
    this.maxDelayNanos = maxDelay.toNanos();
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.depth = depth;
    this.metrics = metrics;
    for (int i = 0; i < predictors.size(); i++) {
      Predictor<List<I>, List<O>> predictor = predictors.get(i);
      Thread thread = new Thread(() -> work(predictor), "modelcache-" + model + "-worker-" + i);
      thread.setDaemon(true);
      threads.add(thread);
    }
    threads.forEach(Thread::start);
  }

  /**
   * Queues {@code items}; the future completes with their outputs, in order, or with the failure.
   * Cancelling it (a timed-out request) takes the request out of the queue if it is still there.
   *
   * @throws QueueFullException at once when {@code queue} requests are already waiting
   */
  CompletableFuture<List<O>> submit(List<I> items) {
    if (closed) {
      throw new ModelNotReadyException(model + " is shutting down");
    }
    CompletableFuture<List<O>> result = new CompletableFuture<>();
    Request<I, O> request = new Request<>(List.copyOf(items), key(items), result);
    depth.incrementAndGet();
    if (!queue.offer(request)) {
      depth.decrementAndGet();
      throw new QueueFullException(
          model
              + " - the queue is full ("
              + (queue.size() + queue.remainingCapacity())
              + " requests waiting for "
              + threads.size()
              + " worker(s)); retry shortly, or raise the model's queue or workers");
    }
    result.whenComplete(
        (outputs, failure) -> {
          if (result.isCancelled() && queue.remove(request)) {
            depth.decrementAndGet();
          }
        });
    return result;
  }

  private Object key(List<I> items) {
    if (!(task instanceof BatchKeyed<?>)) {
      return "";
    }
    @SuppressWarnings("unchecked")
    BatchKeyed<I> keyed = (BatchKeyed<I>) task;
    Object key = keyed.batchKey(items.get(0));
    for (I item : items.subList(1, items.size())) {
      if (!Objects.equals(keyed.batchKey(item), key)) {
        return new Object(); // items that cannot share a pass with each other: never batched
      }
    }
    return key;
  }

  private void work(Predictor<List<I>, List<O>> predictor) {
    MDC.put("model", model);
    Request<I, O> carried = null;
    try {
      while (!closed) {
        Request<I, O> first = carried != null ? carried : take();
        carried = null;
        if (first.result().isDone()) {
          continue; // timed out while it waited
        }
        List<Request<I, O>> batch = new ArrayList<>();
        batch.add(first);
        int items = first.items().size();
        long until = System.nanoTime() + maxDelayNanos;
        while (items < maxItems) {
          long left = until - System.nanoTime();
          Request<I, O> next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) {
            break;
          }
          depth.decrementAndGet();
          if (next.result().isDone()) {
            continue;
          }
          if (!next.key().equals(first.key()) || items + next.items().size() > maxItems) {
            carried = next; // starts this worker's next batch
            break;
          }
          batch.add(next);
          items += next.items().size();
        }
        run(predictor, batch);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // closing
    } finally {
      if (carried != null) {
        carried.result().completeExceptionally(shuttingDown());
      }
      predictor.close();
    }
  }

  private Request<I, O> take() throws InterruptedException {
    Request<I, O> request = queue.take();
    depth.decrementAndGet();
    return request;
  }

  private void run(Predictor<List<I>, List<O>> predictor, List<Request<I, O>> batch) {
    List<I> items = new ArrayList<>();
    batch.forEach(r -> items.addAll(r.items()));
    List<O> outputs;
    try {
      outputs = predictor.predict(items);
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
      if (batch.size() == 1) {
        batch.get(0).result().completeExceptionally(e);
      } else {
        log.debug(
            "{} - a batch of {} requests failed ({}); running each alone",
            model,
            batch.size(),
            ModelRegistry.firstLine(e));
        for (Request<I, O> request : batch) {
          if (!request.result().isDone()) {
            run(predictor, List.of(request));
          }
        }
      }
      return;
    } catch (Error e) {
      log.error("{} - a worker stops: {}", model, e.toString());
      batch.forEach(r -> r.result().completeExceptionally(e));
      throw e;
    } finally {
      metrics.batch(model, batch.size());
    }
    int from = 0;
    for (Request<I, O> request : batch) {
      int to = from + request.items().size();
      request.result().complete(List.copyOf(outputs.subList(from, to)));
      from = to;
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
    closed = true;
    threads.forEach(Thread::interrupt);
    for (Thread thread : threads) {
      try {
        thread.join(CLOSE_WAIT.toMillis());
        if (thread.isAlive()) {
          log.warn(
              "{} - worker {} still runs {} s after close", model, thread.getName(), CLOSE_WAIT);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    Request<I, O> left;
    while ((left = queue.poll()) != null) {
      depth.decrementAndGet();
      left.result().completeExceptionally(shuttingDown());
    }
  }
}
