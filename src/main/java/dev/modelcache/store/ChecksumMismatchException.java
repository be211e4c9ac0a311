package dev.modelcache.store;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/** A file's bytes do not match the digest they must have; the file was not installed. */
public final class ChecksumMismatchException extends IOException {
  private static final long serialVersionUID = 1L;
  public static final String PIN_ADVICE =
      "If the new bytes are intended, update the pin; otherwise restore the file";
  private final String file;
  private final String expected;
  private final @Nullable String actual;

  /** A SHA-256 that differs from a pin of the config. */
  public ChecksumMismatchException(
      String model, String file, String expected, String actual, String expectedBy) {
    this(model, file, "sha256", expected, expectedBy, actual, PIN_ADVICE);
  }

  /**
   * @param algorithm {@code sha256} or {@code git-sha1}
   * @param expectedBy who vouches for {@code expected} ("pinned in the config", "the Hub's etag")
   * @param advice what the user should do, one sentence
   */
  public ChecksumMismatchException(
      String model,
      String file,
      String algorithm,
      String expected,
      String expectedBy,
      @Nullable String actual,
      String advice) {
    super(
        model
            + " - "
            + file
            + ": "
            + algorithm
            + " mismatch: expected "
            + expected
            + " ("
            + expectedBy
            + "), actual "
            + actual
            + "; the file was not installed. "
            + advice);
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

  public @Nullable String actual() {
    return actual;
  }
}
