package dev.modelcache.inference;

import org.jspecify.annotations.Nullable;

/**
 * Admission control of the heap that inference requests in flight hold: each request reserves an
 * estimate of its cost before its body is read, and gives it back when its answer is ready. A
 * request that does not fit waits nowhere: it is refused at once, so that the caller can answer 503
 * and the daemon never runs out of heap (with {@code -XX:+ExitOnOutOfMemoryError}, as in the image,
 * that would take every model down). One budget is shared by the HTTP and gRPC servers: they spend
 * the same heap.
 *
 * <pre>{@code
 * try (MemoryBudget.Permit permit = budget.tryAcquire(cost)) { // null when it does not fit
 *   ...
 * }
 * }</pre>
 */
public final class MemoryBudget {
  private final long capacity;
  private long used; // guarded by this

  /**
   * @param capacity the bytes requests in flight may hold together
   */
  public MemoryBudget(long capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity (" + capacity + ") must be positive");
    }
    this.capacity = capacity;
  }

  public long capacity() {
    return capacity;
  }

  public synchronized long used() {
    return used;
  }

  /** Reserves {@code bytes}, or returns null when they do not fit beside what is reserved. */
  public synchronized @Nullable Permit tryAcquire(long bytes) {
    if (bytes > capacity - used) {
      return null;
    }
    used += bytes;
    return new Permit(bytes);
  }

  /** One request's reservation; {@link #close()} gives it back (once). */
  public final class Permit implements AutoCloseable {
    private long held; // guarded by MemoryBudget.this

    private Permit(long held) {
      this.held = held;
    }

    /**
     * Changes the reservation to {@code bytes} (once the real size is known); false, holding what
     * it held, when a larger one does not fit.
     */
    public boolean resize(long bytes) {
      synchronized (MemoryBudget.this) {
        if (bytes - held > capacity - used) {
          return false;
        }
        used += bytes - held;
        held = bytes;
        return true;
      }
    }

    @Override
    public void close() {
      synchronized (MemoryBudget.this) {
        used -= held;
        held = 0;
      }
    }
  }
}
