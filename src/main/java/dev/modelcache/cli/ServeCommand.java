package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.threads.NamedThreads;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache serve}: fetch, verify and load every model, and serve them over HTTP until
 * stopped. When something is missing that cannot be fetched (offline mode, or a read-only cache) it
 * exits 1 before binding HTTP, one line per missing model or file.
 *
 * <p>SIGTERM (or SIGINT) stops gracefully: no new connections, requests in flight get up to {@code
 * server.shutdown_grace_seconds}, then the models are closed and the process exits 0 (1 when the
 * grace period ran out with requests still running). A second signal exits at once with 143 (130
 * for SIGINT), as the default handler would have.
 */
@Command(
    name = "serve",
    description =
        "Fetch, verify and load the configured models, and serve them over HTTP. Offline or on a"
            + " read-only cache, exit 1 at once listing what is missing.")
final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Mixin ConfigOption config;
  @Spec CommandSpec spec;

  @Override
  public Integer call() throws InterruptedException, IOException {
    Config loaded = config.load();
    // The engines' natives load beside everything else the start does (the daemon's parts, the
    // cache's verification, HTTP's start), not after them: the longest part of a warm start.
    EarlyEngines.start(loaded);
    loaded.describe().forEach(line -> log.info("{}", line));
    Daemon daemon = new Daemon(loaded, Clock.systemUTC());
    List<String> missing = daemon.missing();
    if (!missing.isEmpty()) {
      daemon.close();
      PrintWriter err = spec.commandLine().getErr();
      missing.forEach(err::println);
      err.flush();
      return 1;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    AtomicBoolean stopping = new AtomicBoolean();
    AtomicInteger exitCode = new AtomicInteger();
    // Before the start: readiness can go UP (and an orchestrator send SIGTERM) while this thread
    // still starts the reloader, and the JVM's own handler would then exit 143 without a drain
    CountDownLatch started = new CountDownLatch(1);
    onStopSignals(
        daemon, loaded.server().shutdownGraceSeconds(), stopping, exitCode, stopped, started);
    daemon.start();
    started.countDown();
    Reloader reloader = daemon.reloader(config::load);
    reloader.watch();
    if (!Signals.handle("HUP", () -> reloader.request("SIGHUP"))) {
      log.warn(
          "SIGHUP is ignored in this process (started under nohup, or by a parent that ignores"
              + " it), so it will not reload the config: start modelcache without nohup, or set"
              + " server.reload.watch: true to reload on a change of the file");
    }
    // Any other way out of the JVM (System.exit elsewhere, or no signal API) still closes.
    Runtime.getRuntime()
        .addShutdownHook(
            NamedThreads.named("modelcache-shutdown-hook")
                .newThread(
                    () -> {
                      if (stopping.compareAndSet(false, true)) {
                        log.info("shutting down");
                        daemon.shutdown();
                      }
                    }));
    stopped.await();
    return exitCode.get();
  }

  /**
   * SIGTERM and SIGINT stop the daemon gracefully on a thread of their own (a second signal exits
   * at once); {@code stopped} counts down when it has stopped, with the exit code set. A signal
   * that comes before {@code started} counts down stops the daemon once its start has returned.
   */
  private static void onStopSignals(
      Daemon daemon,
      int grace,
      AtomicBoolean stopping,
      AtomicInteger exitCode,
      CountDownLatch stopped,
      CountDownLatch started) {
    for (String signal : new String[] {"TERM", "INT"}) {
      Signals.handle(
          signal,
          () -> {
            if (!stopping.compareAndSet(false, true)) {
              log.warn("SIG{} again - exiting now, cutting the requests in flight", signal);
              Runtime.getRuntime().halt(Signals.killedStatus(signal));
            }
            log.info(
                "SIG{} - stopping: no new connections; {} requests in flight get up to {} s"
                    + " (server.shutdown_grace_seconds); send SIG{} again to exit at once",
                signal,
                daemon.activeRequests(),
                grace,
                signal);
            Thread shutdown =
                NamedThreads.named("modelcache-shutdown")
                    .newThread(
                        () -> {
                          try {
                            awaitStart(started);
                            boolean drained = daemon.shutdown();
                            exitCode.set(drained ? 0 : 1);
                            log.info("stopped{}", drained ? "" : " (requests were cut: exit 1)");
                          } finally {
                            stopped.countDown();
                          }
                        });
            shutdown.start();
          });
    }
  }

  private static void awaitStart(CountDownLatch started) {
    try {
      started.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // stop what has started
    }
  }
}
