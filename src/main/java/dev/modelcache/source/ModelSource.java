package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;

/**
 * Where a model's files come from: lists what exists upstream and opens the bytes of each file.
 * Whoever makes a source closes it, once nothing reads from it any more.
 */
public interface ModelSource extends AutoCloseable {

  /** Lists the files of {@code model} upstream, after its include/exclude patterns. */
  Snapshot resolve(ModelConfig model) throws IOException;

  /**
   * Opens bytes {@code [offset, end)} of {@code file} of {@code snapshot} (as {@link #resolve}
   * returned it); {@code end} is at most the file's size. The stream may end early (a cut); the
   * caller resumes from where it stopped.
   */
  InputStream open(ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException;

  /**
   * Whether {@code file} (as {@link #resolve} listed it) may be fetched as several byte ranges at
   * once: true unless the source knows its server ignores {@code Range}.
   */
  default boolean ranges(ModelConfig model, SourceFile file) {
    return true;
  }

  /** Releases what the source holds open (clients, connections, threads); quiet, never throws. */
  @Override
  void close();
}
