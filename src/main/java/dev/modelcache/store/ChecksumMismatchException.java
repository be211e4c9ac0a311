package dev.modelcache.store;

import java.io.IOException;

/** A file's bytes do not match the digest they must have; the file was not installed. */
public final class ChecksumMismatchException extends IOException {
  private static final long serialVersionUID = 1L;
  private final String file;
  private final String expected;
  private final String actual;

  public ChecksumMismatchException(
      String model, String file, String expected, String actual, String pinnedBy) {
    super(
        model
            + " - "
            + file
            + ": sha256 mismatch: expected "
            + expected
            + " ("
            + pinnedBy
            + "), actual "
            + actual
            + "; the file was not installed. If the new bytes are intended, update the pin; otherwise restore the file");
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }

  public String file() {
    return file;
  }

  public String expected() {
    return expected;
  }

  public String actual() {
    return actual;
  }
}
