package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.WatchMeters;
import dev.modelcache.store.SignedLock;
import dev.modelcache.threads.NamedThreads;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the config on SIGHUP or when its file changes ({@code server.reload.watch}): reads it
 * with the loader of the start, in full, with its {@code modelcache.lock}, and either puts it in
 * force whole (the models' changes then apply, see {@link ModelUpdates}) or refuses it whole,
 * logging an ERROR that names the problem, and the running config stays in force. A change to a
 * setting outside {@code models:} (the port, the cache, the sources, auth) is refused so: "restart
 * to change server.port". Each reload is counted in {@code modelcache_config_reload_total}.
 *
 * <p>Reloads run one at a time on the {@code modelcache-reload} thread, after the start-up
 * preparation; requests that come meanwhile are folded into one.
 *
 * <pre>{@code
 * Signals.handle("HUP", () -> reloader.request("SIGHUP"));
 * }</pre>
 */
final class Reloader implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Reloader.class);

  private final Supplier<Config> loader;
  private final ModelUpdates.Parts parts;
  private final BiConsumer<Config, SignedLock> applied;
  private final CompletableFuture<Void> started;
  private final NamedThreads thread = NamedThreads.named("modelcache-reload");
  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(thread);
  private final ModelUpdates updates;
  private final NamedThreads watchThread = NamedThreads.named("modelcache-watch");
  private final ScheduledExecutorService watchExecutor =
      Executors.newSingleThreadScheduledExecutor(watchThread);
  private final UpstreamWatch upstream;
  private final dev.modelcache.metrics.ReloadMeters meters;
  private final AtomicBoolean queued = new AtomicBoolean();
  private volatile Config config;
  private volatile SignedLock signed;
  private volatile @Nullable ConfigWatch watch;

  /**
   * @param loader reads the config as at start (the same file, loader and environment)
   * @param started completes when the start-up preparation is done; reloads wait for it
   * @param applied told of each config put in force
   */
  Reloader(
      Config config,
      SignedLock signed,
      Supplier<Config> loader,
      ModelUpdates.Parts parts,
      CompletableFuture<Void> started,
      BiConsumer<Config, SignedLock> applied) {
    this.config = config;
    this.signed = signed;
    this.loader = loader;
    this.parts = parts;
    this.started = started;
    this.applied = applied;
    this.updates = new ModelUpdates(parts, executor, config.cache().offline());
    this.meters = parts.metrics().bindReload();
    this.upstream =
        new UpstreamWatch(
            parts.sources().byScheme(),
            new WatchTarget(),
            new WatchMeters(parts.metrics().registry()),
            parts.clock(),
            Math::random,
            watchExecutor);
    // the canaries load once the models themselves are served (start-up preparation done)
    var unused = started.thenRun(() -> submit(() -> updates.startCanaries(config, signed)));
  }

  private void submit(Runnable task) {
    try {
      executor.execute(task);
    } catch (RejectedExecutionException e) {
      // stopping
    }
  }

  /** The daemon as the upstream watch sees it: the config in force, and the updates' thread. */
  private final class WatchTarget implements UpstreamWatch.Target {
    @Override
    public Config config() {
      return config;
    }

    @Override
    public SignedLock signed() {
      return signed;
    }

    @Override
    public Optional<String> serving(String model) {
      return parts.registry().revision(model);
    }

    @Override
    public void moved(ModelConfig model) {
      try {
        executor.execute(
            () -> {
              if (!awaitStarted()) {
                return;
              }
              Config current = config;
              current.models().stream()
                  .filter(m -> m.name().equals(model.name()))
                  .findFirst()
                  .ifPresent(m -> updates.moved(current, signed, m));
            });
      } catch (RejectedExecutionException e) {
        // stopping
      }
    }
  }

  /** Asks for a reload ({@code why}: "SIGHUP", the file changed); returns at once. */
  void request(String why) {
    if (!queued.compareAndSet(false, true)) {
      return; // one is queued already: it will read the newest file
    }
    try {
      executor.execute(() -> run(why));
    } catch (RejectedExecutionException e) {
      queued.set(false); // stopping
    }
  }

  /**
   * Waits for the start-up preparation, which owns the models until it is done; false: stopping.
   */
  private boolean awaitStarted() {
    try {
      started.get();
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (java.util.concurrent.ExecutionException e) {
      return true; // it completes normally; nothing to wait for
    }
  }

  private void run(String why) {
    if (!awaitStarted()) {
      return;
    }
    queued.set(false);
    try {
      reload(why);
    } catch (RuntimeException e) {
      log.error("config reload ({}) failed: {}", why, e.toString(), e);
    }
  }

  /** Reads, checks and puts in force the config; true when it was. */
  boolean reload(String why) {
    Config next;
    SignedLock nextSigned;
    try {
      next = loader.get();
      nextSigned = ConfigOption.signedLock(next); // a signature that does not verify refuses it
    } catch (RuntimeException e) {
      return refuse(why, e.getMessage() == null ? e.toString() : e.getMessage());
    }
    ConfigDiff diff = ConfigDiff.of(config, signed.lockfile(), next, nextSigned.lockfile());
    if (!diff.fixed().isEmpty()) {
      return refuse(
          why,
          diff.fixed().stream()
                  .map(key -> "restart to change " + key)
                  .collect(Collectors.joining("; "))
              + " (these cannot change while the daemon runs)");
    }
    for (ModelConfig model : ConfigDiff.concat(diff.added(), diff.changed())) {
      if (!parts.sources().byScheme().containsKey(model.source().scheme())) {
        return refuse(
            why,
            model.name()
                + " - restart to add the first "
                + model.source().scheme()
                + " model (the daemon started with no such source)");
      }
    }
    config = next;
    signed = nextSigned;
    applied.accept(next, nextSigned);
    meters.reloaded(true);
    log.info(
        "config reloaded ({}): models added {}, removed {}, changed {}",
        why,
        names(diff.added()),
        diff.removed(),
        names(diff.changed()));
    updates.apply(next, nextSigned, diff);
    upstream.refresh();
    return true;
  }

  private boolean refuse(String why, String problem) {
    meters.reloaded(false);
    log.error("config reload ({}) refused, the running config stays in force: {}", why, problem);
    return false;
  }

  private static List<String> names(List<ModelConfig> models) {
    return models.stream().map(ModelConfig::name).toList();
  }

  /**
   * Starts watching the upstream of the models with {@code watch:} ({@link UpstreamWatch}), and the
   * config file and its lockfile when {@code server.reload.watch} is on (and the config came from a
   * file).
   */
  void watch() {
    upstream.refresh();
    Config.Reload settings = config.server().reload();
    if (!settings.watch() || config.origin().equals(dev.modelcache.config.ConfigLoader.EMBEDDED)) {
      return;
    }
    java.nio.file.Path file = java.nio.file.Path.of(config.origin()).toAbsolutePath().normalize();
    try {
      watch =
          new ConfigWatch(
              java.util.Objects.requireNonNull(file.getParent(), "a file has a folder"),
              java.util.Set.of(file, config.lockfile()),
              java.time.Duration.ofMillis(settings.debounceMs()),
              this::request);
    } catch (java.io.IOException e) {
      log.error(
          "cannot watch {} (server.reload.watch): {}; reload it with SIGHUP", file, e.toString());
    }
  }

  /** The config in force. */
  Config config() {
    return config;
  }

  @Override
  public void close() {
    if (watch != null) {
      watch.close();
    }
    watchExecutor.shutdownNow();
    watchThread.stop(watchExecutor, NamedThreads.STOP_WAIT, log);
    executor.shutdownNow();
    thread.stop(executor, NamedThreads.STOP_WAIT, log);
    updates.close();
  }
}
