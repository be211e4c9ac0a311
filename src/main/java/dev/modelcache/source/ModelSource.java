package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;

/** Where a model's files come from: lists what exists upstream and opens the bytes of each file. */
public interface ModelSource {

  /** Lists the files of {@code model} upstream, after its include/exclude patterns. */
  Snapshot resolve(ModelConfig model) throws IOException;

  /**
   * Opens {@code file} of {@code snapshot} (as {@link #resolve} returned it) from byte {@code
   * offset} on (0 for the whole file).
   */
  InputStream open(ModelConfig model, Snapshot snapshot, SourceFile file, long offset)
      throws IOException;
}
