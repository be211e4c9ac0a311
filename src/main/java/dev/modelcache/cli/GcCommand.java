package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.store.CacheLimit;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.EvictionPlan;
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
            + " modelcache.lock pins (configured or not). With cache.max_bytes set it also prints"
            + " the eviction plan: the snapshots nothing needs, least recently used first, and"
            + " --delete evicts those over the limit.")
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
    if (loaded.cache().maxBytes() > 0) {
      printPlan(out, CacheLimits.forCommand(loaded, store, Clock.systemUTC()));
    }
    out.flush();
    return 0;
  }

  /**
   * The eviction plan of {@code cache.max_bytes}: the evictable snapshots, least recently used
   * first (the order a fetch evicts them in), and what goes when the cache is over the limit; with
   * {@code --delete} that is evicted.
   */
  private void printPlan(PrintWriter out, CacheLimit limit) throws java.io.IOException {
    EvictionPlan plan = limit.plan(0);
    out.printf(
        "cache.max_bytes %s: the models hold %s; %d evictable, least recently used first%s%n",
        human(plan.maxBytes()),
        human(plan.usedBytes()),
        plan.evictable().size(),
        plan.kept() > 0 ? " (" + plan.kept() + " unneeded kept: used lately or downloading)" : "");
    int rank = 0;
    for (EvictionPlan.Evictable e : plan.evictable()) {
      out.printf(
          "%-6s %3d %14d  last used %s  %s%n",
          rank < plan.chosen() ? "evict" : "keep", ++rank, e.bytes(), e.lastUse(), e.label());
    }
    if (plan.excessBytes() <= 0) {
      out.println("within cache.max_bytes: nothing to evict");
    } else if (!plan.enough()) {
      out.printf(
          "over cache.max_bytes by %d bytes, more than all evictable: raise cache.max_bytes or"
              + " remove models%n",
          plan.excessBytes());
    } else if (delete) {
      long freed = limit.evict(plan, "gc");
      out.printf("evicted %d snapshots: %d bytes freed%n", plan.chosen(), freed);
    } else {
      out.printf(
          "over cache.max_bytes by %d bytes: run 'modelcache gc --delete' to evict the first %d%n",
          plan.excessBytes(), plan.chosen());
    }
  }

  private static String human(long bytes) {
    return ByteSize.human(bytes) + " (" + bytes + " bytes)";
  }
}
