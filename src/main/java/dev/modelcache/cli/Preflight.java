package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.Verifier;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Which models can be fetched now, and what is missing of those that cannot: {@code serve} and
 * {@code fetch} check it before they start, so that offline mode or a read-only cache fails at once
 * listing what is absent instead of waiting on a model that can never come.
 */
final class Preflight {
  private Preflight() {}

  /**
   * Why {@code model} cannot be fetched now, as the end of a message, or null when it can: the
   * cache is read-only, or offline mode is on and the source is not a local folder.
   */
  static @Nullable String cannotFetch(Config config, ModelConfig model, boolean writable) {
    if (!writable) {
      return "the cache at "
          + config.cache().dir()
          + " is read-only, so nothing can be fetched into it: run 'modelcache fetch' where the"
          + " volume is writable";
    }
    if (config.cache().offline() && model.source().scheme() != SourceRef.Scheme.FILE) {
      return "offline (cache.offline, MODELCACHE_OFFLINE or HF_HUB_OFFLINE), so "
          + model.source()
          + " is not contacted: run 'modelcache fetch' where it is reachable, or turn offline mode"
          + " off";
    }
    return null;
  }

  /**
   * One line per model or file that is absent from the cache and cannot be fetched now; empty when
   * the command may go on. Reads install records and blob sizes only.
   */
  static List<String> missing(Config config, CacheStore store, boolean writable)
      throws IOException {
    List<String> lines = new ArrayList<>();
    for (ModelConfig model : config.models()) {
      String reason = cannotFetch(config, model, writable);
      if (reason == null) {
        continue;
      }
      for (Verifier.Problem problem : Verifier.missing(store, model)) {
        lines.add("FAILED " + model.name() + ": " + problem.message() + "; " + reason);
      }
    }
    return lines;
  }
}
