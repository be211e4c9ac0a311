package dev.modelcache.cli;

import dev.modelcache.config.Config;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
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
    daemon.start();
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
