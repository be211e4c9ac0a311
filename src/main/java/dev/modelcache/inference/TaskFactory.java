package dev.modelcache.inference;

import dev.modelcache.config.ModelConfig;
import java.nio.file.Path;

/** Makes the {@link Task} of a model from its config and the files of its snapshot. */
@FunctionalInterface
public interface TaskFactory {

  /**
   * The task of {@code model}, built from the files of its snapshot.
   *
   * @throws ModelLoadException when the snapshot lacks what the task needs (a tokenizer, labels)
   */
  Task<?, ?> create(ModelConfig model, Path snapshotDir) throws ModelLoadException;
}
