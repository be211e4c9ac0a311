package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.GarbageCollector;
import dev.modelcache.store.GarbageCollector.Garbage;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code modelcache gc [--delete]}: lists (and with {@code --delete} removes) what in the cache no
 * configured model needs.
 */
@Command(
    name = "gc",
    description =
        "List blobs and snapshots that no configured model's install record needs, download parts"
            + " untouched for an hour and quarantined files, with the bytes they hold; --delete"
            + " removes them. Never removes what a configured model needs, nor what"
            + " modelcache.lock pins (configured or not).")
final class GcCommand implements Callable<Integer> {
  @Mixin ConfigOption config;
  @Spec CommandSpec spec;

  @Option(names = "--delete", description = "remove what is listed")
  boolean delete;

  @Override
  public Integer call() throws Exception {
    Config loaded = config.load();
    PrintWriter out = spec.commandLine().getOut();
    CacheStore store = new CacheStore(loaded.cache());
    GarbageCollector gc =
        new GarbageCollector(
            store, loaded.models(), ConfigOption.lockfile(loaded), Clock.systemUTC());
    List<Garbage> garbage = gc.find();
    long bytes = 0;
    for (Garbage item : garbage) {
      out.printf(
          "%-10s %14d  %s%n", item.kind(), item.bytes(), store.root().relativize(item.path()));
      bytes += item.bytes();
    }
    if (garbage.isEmpty()) {
      out.println("nothing to reclaim in " + store.root());
    } else if (delete) {
      long reclaimed = gc.delete(garbage);
      out.printf(
          "%d bytes reclaimed from %d paths in %s%n", reclaimed, garbage.size(), store.root());
    } else {
      out.printf(
          "%d bytes reclaimable in %d paths in %s; run 'modelcache gc --delete' to remove them%n",
          bytes, garbage.size(), store.root());
    }
    out.flush();
    return 0;
  }
}
