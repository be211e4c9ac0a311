package dev.modelcache.inference;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.InstalledSnapshot;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/** What the registry knows of one configured model. */
final class ModelEntry {
  final ModelConfig config;
  volatile @Nullable LoadedModel<?, ?> loaded;

  /** Set once its files are ready: the snapshot, its task and labels. */
  volatile @Nullable Prepared prepared;

  /** The lazy load under way or done (guarded by this). */
  @Nullable CompletableFuture<LoadedModel<?, ?>> loading;

  /**
   * A model whose files are ready to load.
   *
   * @param choice the engine and model file its files pick, decided once here; null when they pick
   *     none (the load then fails with the reason)
   */
  record Prepared(
      InstalledSnapshot snapshot,
      Task<?, ?> task,
      ModelMetadata metadata,
      Engines.@Nullable Choice choice) {}

  /** The canary and previous revisions loaded beside this one; only a primary has any. */
  volatile Revisions revisions = Revisions.NONE;

  /** Set when a reload removed the model: no request picks it any more. */
  volatile boolean retired;

  /**
   * The loaded model for one request, counted in its in-flight requests until the request releases
   * it; null when none is loaded. A model swapped out after it was read is released and the current
   * one read again, so that a drain that saw zero requests on the old one stays right.
   */
  @Nullable LoadedModel<?, ?> acquire() {
    while (true) {
      LoadedModel<?, ?> current = loaded;
      if (current == null || retired) {
        return null;
      }
      current.acquire();
      if (loaded == current && !retired) {
        return current;
      }
      current.release();
    }
  }

  ModelEntry(ModelConfig config) {
    this.config = config;
  }

  String name() {
    return config.name();
  }

  /** The revision (snapshot id) of a prepared entry. */
  String revisionId() {
    Prepared current = prepared;
    if (current == null) {
      throw new IllegalStateException(name() + " is not prepared");
    }
    return current.snapshot().id();
  }

  /** The engine the model runs on: the loaded one's, else the one its files pick. */
  String engine(Prepared prepared) {
    LoadedModel<?, ?> current = loaded;
    if (current != null) {
      return current.engine();
    }
    return prepared.choice() != null ? prepared.choice().engine() : config.engine();
  }
}
