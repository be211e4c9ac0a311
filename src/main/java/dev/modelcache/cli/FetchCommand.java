package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.threads.NamedThreads;
import java.io.Console;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache fetch}: the init-container mode. Exit 0 when every model is present and
 * verified. Offline (or on a read-only cache) it first checks that what cannot be fetched is
 * present, and exits 1 listing what is missing without fetching anything. While it downloads,
 * {@link FetchProgress} shows each model's progress on stderr.
 */
@Command(
    name = "fetch",
    description =
        "Fetch and verify every configured model into the cache, then exit:"
            + " 0 when all are present and verified, 1 with one line per failure.")
final class FetchCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(FetchCommand.class);

  @Mixin ConfigOption config;

  @picocli.CommandLine.Option(
      names = "--frozen",
      description =
          "fetch exactly what modelcache.lock names (the locked revision and files) and fail, naming the"
              + " difference, when upstream no longer matches it")
  boolean frozen;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<String> names = loaded.models().stream().map(ModelConfig::name).toList();
    Clock clock = Clock.systemUTC();
    ModelStates states = new ModelStates(names, Set.copyOf(names), clock);
    CacheStore store = new CacheStore(loaded.cache());
    dev.modelcache.store.SignedLock signed = ConfigOption.signedLock(loaded);
    // a signed lockfile is held to exactly: fetch what it names, and never rewrite it
    boolean exact = frozen || signed.required();
    List<String> missing = Preflight.missing(loaded, store, store.writable());
    if (!missing.isEmpty()) {
      missing.forEach(err::println);
      err.flush();
      return 1;
    }
    boolean terminal = isTerminal(System.console());
    PrintStream stderr = System.err;
    FetchProgress progress =
        new FetchProgress(
            states,
            terminal ? new PrintWriter(stderr, true, Charset.defaultCharset()) : err,
            terminal,
            clock);
    if (terminal) {
      // log lines (written to System.err by Logback) take the progress lines off first
      System.setErr(new PrintStream(progress.guarding(stderr), true, Charset.defaultCharset()));
    }
    NamedThreads tickerThread = NamedThreads.named("modelcache-progress");
    ScheduledExecutorService ticker = startTicker(tickerThread, progress);
    try (Sources sources = Sources.of(loaded);
        Fetcher fetcher = sources.fetcher(loaded, store, states, clock)) {
      int failures = 0;
      for (ModelConfig model : loaded.models()) {
        if (!fetchOne(loaded, fetcher, model, signed, exact, states, progress, out, err)) {
          failures++;
        }
      }
      return failures == 0 ? 0 : 1;
    } finally {
      tickerThread.stop(ticker, NamedThreads.STOP_WAIT, log);
      progress.finish();
      out.flush();
      err.flush();
      if (terminal) {
        System.setErr(stderr);
      }
    }
  }

  /** Redraws the progress display every {@link FetchProgress#TERMINAL_INTERVAL} until stopped. */
  private static ScheduledExecutorService startTicker(
      NamedThreads tickerThread, FetchProgress progress) {
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(tickerThread);
    long period = FetchProgress.TERMINAL_INTERVAL.toMillis();
    // Ends when the ticker is shut down.
    var unused =
        ticker.scheduleAtFixedRate(
            () -> {
              try {
                progress.tick();
              } catch (RuntimeException e) {
                log.warn("progress display failed", e);
              }
            },
            period,
            period,
            TimeUnit.MILLISECONDS);
    return ticker;
  }

  /** Fetches one model and prints its "ok" or "FAILED" line; false when it failed. */
  private boolean fetchOne(
      Config loaded,
      Fetcher fetcher,
      ModelConfig model,
      dev.modelcache.store.SignedLock signed,
      boolean exact,
      ModelStates states,
      FetchProgress progress,
      PrintWriter out,
      PrintWriter err) {
    try {
      signed.requireSigned(model);
      InstalledSnapshot snapshot =
          fetcher.fetch(model, signed.lockfile().model(model.name()), exact);
      signed.requireNamed(model, snapshot);
      if (!exact) {
        LockRecorder.record(loaded, fetcher, model, snapshot);
      }
      states.ready(model.name());
      progress.println(
          out,
          String.format(
              "ok %s: snapshot %s, %d files, %d bytes, in %s%s",
              model.name(),
              snapshot.id(),
              snapshot.files().size(),
              snapshot.totalBytes(),
              snapshot.dir(),
              fetcher.servedFromCache(model)
                  ? " (from the cache: the source is unreachable, see the WARN above)"
                  : ""));
      return true;
    } catch (Exception e) {
      states.failed(model.name(), e.getMessage());
      progress.println(err, String.format("FAILED %s: %s", model.name(), e.getMessage()));
      return false;
    }
  }

  /**
   * Whether stdin and stdout are a terminal (Java 22+ hands out a Console for pipes too and says so
   * through {@code isTerminal()}, looked up here because this code targets Java 17).
   */
  static boolean isTerminal(@Nullable Console console) {
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true; // Java 17 to 21: a Console is only handed out for a terminal
    }
  }
}
