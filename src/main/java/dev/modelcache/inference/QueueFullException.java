package dev.modelcache.inference;

/** The model's request queue is full; the client should retry later (503 with Retry-After). */
public final class QueueFullException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public QueueFullException(String message) {
    super(message);
  }
}
