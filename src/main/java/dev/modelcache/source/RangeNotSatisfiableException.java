package dev.modelcache.source;

/**
 * The source answered a byte range with HTTP 416: it has no bytes from the asked offset. On a
 * resume this says that the bytes kept from an earlier attempt no longer fit the file (or already
 * are all of it): the fetcher checks what it has instead of failing for good.
 */
public final class RangeNotSatisfiableException extends SourceException {
  private static final long serialVersionUID = 1L;

  public RangeNotSatisfiableException(String message) {
    super(message);
  }
}
