package dev.modelcache.cli;

import dev.modelcache.config.Config;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code modelcache serve}: fetch, verify and load every model, and serve them over HTTP until
 * stopped.
 */
@Command(
    name = "serve",
    description = "Fetch, verify and load the configured models, and serve them over HTTP.")
final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Mixin ConfigOption config;

  @Override
  public Integer call() throws InterruptedException {
    Config loaded = config.load();
    loaded.describe().forEach(line -> log.info("{}", line));
    CountDownLatch stopped = new CountDownLatch(1);
    Daemon daemon = new Daemon(loaded, Clock.systemUTC()).start();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log.info("shutting down");
                  daemon.close();
                  stopped.countDown();
                },
                "modelcache-shutdown"));
    stopped.await();
    return 0;
  }
}
