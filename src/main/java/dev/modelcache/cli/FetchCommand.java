package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelStates;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache fetch}: the init-container mode. Exit 0 when every model is present and
 * verified. Offline (or on a read-only cache) it first checks that what cannot be fetched is
 * present, and exits 1 listing what is missing without fetching anything.
 */
@Command(
    name = "fetch",
    description =
        "Fetch and verify every configured model into the cache, then exit:"
            + " 0 when all are present and verified, 1 with one line per failure.")
final class FetchCommand implements Callable<Integer> {
  @Mixin ConfigOption config;
  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<String> names = loaded.models().stream().map(ModelConfig::name).toList();
    ModelStates states = new ModelStates(names, Set.copyOf(names), Clock.systemUTC());
    CacheStore store = new CacheStore(loaded.cache().dir());
    List<String> missing = Preflight.missing(loaded, store, store.writable());
    if (!missing.isEmpty()) {
      missing.forEach(err::println);
      err.flush();
      return 1;
    }
    try (Fetcher fetcher =
        new Fetcher(
            store,
            Sources.of(loaded),
            states,
            new Metrics(new SimpleMeterRegistry()),
            Clock.systemUTC(),
            loaded.cache().offline())) {
      int failures = 0;
      for (ModelConfig model : loaded.models()) {
        try {
          InstalledSnapshot snapshot = fetcher.fetch(model);
          out.printf(
              "ok %s: snapshot %s, %d files, %d bytes, in %s%n",
              model.name(),
              snapshot.id(),
              snapshot.files().size(),
              snapshot.totalBytes(),
              snapshot.dir());
        } catch (Exception e) {
          failures++;
          err.printf("FAILED %s: %s%n", model.name(), e.getMessage());
        }
      }
      out.flush();
      err.flush();
      return failures == 0 ? 0 : 1;
    }
  }
}
