package dev.modelcache.cli;

import ai.djl.engine.Engine;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.Engines;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Initialises, on a thread of its own, the engines that a warm start will load its models on (their
 * native libraries, the engine's first set-up), while the cache is verified and fetched and HTTP
 * starts: the first load then finds its engine ready instead of starting it after those. The engine
 * is the one the files of each model's installed snapshot pick ({@link Engines#resolve}), which its
 * load picks again from the same files; a model not in the cache yet, {@code load: lazy}, or whose
 * files pick no engine is left out, so no engine is started that the start would not start. A
 * failure is left to the load, which reports it with the model's name.
 *
 * <pre>{@code
 * EarlyEngines.start(config); // before the daemon starts preparing its models
 * }</pre>
 */
final class EarlyEngines {
  private static final Logger log = LoggerFactory.getLogger(EarlyEngines.class);

  private EarlyEngines() {}

  /** Starts the engines of {@code config}'s cached models on a daemon thread; returns at once. */
  static void start(Config config) {
    Thread thread = new Thread(() -> initialise(config), "modelcache-engines");
    thread.setDaemon(true);
    thread.start();
  }

  /** The DJL names of the engines that the installed snapshots of the preloaded models pick. */
  static Set<String> engines(Config config) {
    CacheStore store = new CacheStore(config.cache());
    Set<String> engines = new LinkedHashSet<>();
    for (ModelConfig model : config.models()) {
      if (model.lazy()) {
        continue;
      }
      try {
        Optional<InstalledSnapshot> installed = store.installed(model);
        if (installed.isPresent()) {
          engines.add(Engines.resolve(model, installed.get().dir()).engine());
        }
      } catch (IOException | ModelLoadException | RuntimeException e) {
        log.debug("{} - no engine started early: {}", model.name(), e.toString());
      }
    }
    return engines;
  }

  private static void initialise(Config config) {
    for (String engine : engines(config)) {
      long start = System.nanoTime();
      try {
        Engine.getEngine(engine);
        log.debug("{} started early in {} ms", engine, (System.nanoTime() - start) / 1_000_000);
      } catch (RuntimeException | LinkageError e) {
        log.debug("{} - not started early: {}", engine, e.toString());
      }
    }
  }
}
