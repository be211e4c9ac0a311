package dev.modelcache.inference;

import ai.djl.inference.Predictor;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The {@code workers} predictors of one model, lent one pass at a time to a worker thread or to a
 * caller that runs a small request inline ({@link Batcher}): never more passes at once than
 * predictors, and never one predictor in two passes (a predictor is not thread-safe). A worker that
 * waits for one is served before new inline runs.
 *
 * <pre>{@code
 * Predictor<List<I>, List<O>> p = pool.take(); // or tryTake() for an inline run
 * try { p.predict(items); } finally { pool.give(p); }
 * }</pre>
 */
final class PredictorPool<I, O> {
  private final List<Predictor<List<I>, List<O>>> all;
  private final ConcurrentLinkedQueue<Predictor<List<I>, List<O>>> idle;
  private final Semaphore permits;

  /** The longest lone pass of a small model, whose requests may run inline. */
  static final long INLINE_PASS_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  private boolean closed; // guarded by this

  /** How long the last lone pass took; none yet (the first request goes to a worker). */
  private volatile long lonePassNanos = Long.MAX_VALUE;

  PredictorPool(List<Predictor<List<I>, List<O>>> predictors) {
    this.all = List.copyOf(predictors);
    this.idle = new ConcurrentLinkedQueue<>(predictors);
    this.permits = new Semaphore(predictors.size());
  }

  /** Whether the last lone pass took at most {@link #INLINE_PASS_NANOS}. */
  boolean small() {
    return lonePassNanos <= INLINE_PASS_NANOS;
  }

  /** Records how long a pass of one request took. */
  void lonePass(long nanos) {
    lonePassNanos = nanos;
  }

  /** An idle predictor, waiting for one. */
  Predictor<List<I>, List<O>> take() throws InterruptedException {
    permits.acquire();
    return Objects.requireNonNull(idle.poll(), "a permit's predictor");
  }

  /** An idle predictor when one is free and no worker waits for one; else null. */
  @Nullable Predictor<List<I>, List<O>> tryTake() {
    if (permits.hasQueuedThreads() || !permits.tryAcquire()) {
      return null;
    }
    return Objects.requireNonNull(idle.poll(), "a permit's predictor");
  }

  /** Gives back a predictor of {@link #take} or {@link #tryTake}. */
  void give(Predictor<List<I>, List<O>> predictor) {
    idle.add(predictor);
    permits.release();
  }

  /**
   * Waits up to {@code wait} until no pass runs, then closes every predictor; once closed, a
   * further call returns true at once.
   *
   * @return false when a pass still ran (its predictors, and so its model, are left open)
   */
  synchronized boolean close(Duration wait) {
    if (closed) {
      return true; // a second close would find the permits taken
    }
    try {
      if (!permits.tryAcquire(all.size(), wait.toMillis(), TimeUnit.MILLISECONDS)) {
        return false;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    all.forEach(Predictor::close);
    closed = true;
    return true;
  }
}
