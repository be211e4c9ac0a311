package dev.modelcache.inference;

/** A request holds more items than {@code server.limits.max_items} allows (413). */
public final class TooManyItemsException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public TooManyItemsException(String message) {
    super(message);
  }
}
