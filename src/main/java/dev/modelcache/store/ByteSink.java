package dev.modelcache.store;

import java.io.IOException;
import java.io.InputStream;
import java.util.function.LongConsumer;

/** Where downloaded bytes go, in order: a whole file ({@link PartFile}) or one range of it. */
public interface ByteSink {

  /** The offset in the file of the next byte to write: where a cut transfer resumes. */
  long position();

  /**
   * Appends {@code in} until it ends or fails; bytes written before a failure are kept.
   *
   * @param progress told the size of each chunk written; it may throw to stop the transfer
   */
  void append(InputStream in, LongConsumer progress) throws IOException;
}
