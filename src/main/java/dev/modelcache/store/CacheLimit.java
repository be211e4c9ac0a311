package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.CacheMeters;
import dev.modelcache.store.EvictionPlan.Evictable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the cache within {@code cache.max_bytes}. Before a fetch downloads, {@link #makeRoom}
 * evicts the least recently used snapshots that nothing needs (no configured model, no version
 * loaded by this process, no {@code modelcache.lock} entry; nor one used within {@link
 * LastUse#IN_USE_WINDOW}, which another process may have loaded, nor one with a blob being
 * downloaded) until the fetch fits; when even all of them would not be enough it evicts nothing and
 * the fetch fails with the numbers. The cache's size is the bytes under the models' repository
 * folders; download parts and verified files set aside count only through the fetches of this
 * process under way ({@link Room}), and other processes' downloads not at all.
 *
 * <p>An eviction keeps HuggingFace's layout whole: the refs pointing at the snapshot go first, then
 * its tree listing, its folder of links, and last the blobs no remaining snapshot links; an install
 * record naming it goes too, and the repository folder once nothing is left in it.
 *
 * <pre>{@code
 * CacheLimit limit = new CacheLimit(store, 2L << 30, () -> keep, meters, Clock.systemUTC());
 * try (CacheLimit.Room room = limit.makeRoom("bert", 500_000_000)) {
 *   // download, install
 * }
 * }</pre>
 */
public final class CacheLimit {
  private static final Logger log = LoggerFactory.getLogger(CacheLimit.class);

  /**
   * What must stay: the configured models, the lockfile, and the snapshot folders loaded by this
   * process (a version being swapped out included).
   */
  public record Keep(List<ModelConfig> models, Lockfile lock, Set<Path> inUse) {}

  /** Room made for one fetch, counted until it is closed (after the install). */
  public interface Room extends AutoCloseable {
    @Override
    void close();
  }

  private static final Room NO_ROOM = () -> {};

  private final CacheStore store;
  private final long maxBytes;
  private final Supplier<Keep> keep;
  private final CacheMeters meters;
  private final LastUse lastUse;
  private final EvictionPlanner planner;
  private long reserved; // guarded by this

  /**
   * @param maxBytes {@code cache.max_bytes}; 0 for no limit (nothing is ever evicted)
   * @param keep asked at each plan: a reload changes the models, loads change what is in use
   */
  public CacheLimit(
      CacheStore store, long maxBytes, Supplier<Keep> keep, CacheMeters meters, Clock clock) {
    this.store = store;
    this.maxBytes = maxBytes;
    this.keep = keep;
    this.meters = meters;
    this.lastUse = new LastUse(store.root(), clock);
    this.planner = new EvictionPlanner(store, lastUse, clock);
  }

  /** No limit: nothing is evicted, no use recorded. */
  public static CacheLimit none(CacheStore store, Clock clock) {
    return new CacheLimit(
        store,
        0,
        () -> new Keep(List.of(), Lockfile.empty(), Set.of()),
        new CacheMeters(new io.micrometer.core.instrument.simple.SimpleMeterRegistry(), 0),
        clock);
  }

  public long maxBytes() {
    return maxBytes;
  }

  /**
   * The plan for {@code neededBytes} more: what would be evicted, least recently used first. With
   * no limit, every snapshot evictable and none chosen. Reads only.
   */
  public synchronized EvictionPlan plan(long neededBytes) throws IOException {
    return planner.plan(
        keep.get(), maxBytes <= 0 ? Long.MAX_VALUE : maxBytes, reserved, neededBytes);
  }

  /**
   * Evicts what {@code neededBytes} more require, or fails, evicting nothing, when evicting every
   * unneeded snapshot would not be enough.
   *
   * @throws StoreException naming the model, the limit, the bytes held, needed and evictable
   */
  public synchronized Room makeRoom(String model, long neededBytes) throws IOException {
    if (maxBytes <= 0 || neededBytes <= 0) {
      return NO_ROOM;
    }
    EvictionPlan plan = plan(neededBytes);
    if (!plan.enough()) {
      meters.refused();
      throw new StoreException(plan.failure(model), null);
    }
    if (plan.chosen() > 0) {
      evict(plan, model);
    }
    reserved += neededBytes;
    boolean[] closed = {false};
    return () -> {
      synchronized (this) {
        if (!closed[0]) {
          closed[0] = true;
          reserved -= neededBytes;
        }
      }
    };
  }

  /**
   * Evicts the snapshots {@code plan} chose ({@code modelcache gc --delete} over the limit);
   * returns the bytes freed.
   *
   * @param forWhat the model being fetched, or {@code gc}: for the log lines
   */
  public synchronized long evict(EvictionPlan plan, String forWhat) throws IOException {
    long freed = 0;
    for (Evictable snapshot : plan.toEvict()) {
      evictOne(snapshot);
      freed += snapshot.bytes();
      meters.evicted(snapshot.bytes());
      log.info(
          "{} - evicted {}: {} freed, last used {}, to keep the cache within cache.max_bytes {}",
          forWhat,
          snapshot.label(),
          ByteSize.human(snapshot.bytes()),
          snapshot.lastUse(),
          ByteSize.human(plan.maxBytes()));
    }
    return freed;
  }

  private void evictOne(Evictable evictable) throws IOException {
    Path repo = evictable.repo();
    String id = evictable.snapshot().getFileName().toString();
    // refs first, so that no client resolves a revision to a snapshot being removed
    for (Path ref : files(repo.resolve("refs"))) {
      if (Files.readString(ref, StandardCharsets.UTF_8).strip().equals(id)) {
        Files.deleteIfExists(ref);
      }
    }
    Files.deleteIfExists(repo.resolve("trees").resolve(id + ".json"));
    GarbageCollector.deleteTree(evictable.snapshot());
    for (Path blob : evictable.blobs()) {
      Files.deleteIfExists(blob);
    }
    if (evictable.record() != null) {
      Files.deleteIfExists(evictable.record());
    }
    lastUse.forget(evictable.snapshot());
    if (CacheNeeds.children(repo.resolve("snapshots")).isEmpty()
        && CacheNeeds.children(repo.resolve("blobs")).isEmpty()) {
      GarbageCollector.deleteTree(repo); // nothing left to read: no empty model for clients
    }
  }

  /**
   * Records a use of {@code snapshot} now (a fetch found or installed it, a daemon serves it); at
   * most once per {@link LastUse#RECORD_EVERY} per snapshot; only with a limit (without one, the
   * LRU order falls back on when each snapshot was installed), never on a read-only cache.
   */
  public void used(InstalledSnapshot snapshot) {
    used(snapshot.dir());
  }

  /** Records a use of each snapshot folder this process has loaded (see {@link Keep#inUse}). */
  public void usedInUse() {
    keep.get().inUse().forEach(this::used);
  }

  private void used(Path snapshot) {
    if (maxBytes <= 0 || !store.writable()) {
      return;
    }
    try {
      lastUse.record(snapshot);
    } catch (IOException e) {
      log.debug("{} - recording its use failed: {}", snapshot, e.toString());
    }
  }

  private static List<Path> files(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList();
    }
  }
}
