package dev.modelcache.store;

import dev.modelcache.metrics.ByteSize;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * What keeping the cache within {@code cache.max_bytes} takes before {@code neededBytes} more come
 * in: every evictable snapshot, least recently used first, and how many of them (the first {@code
 * chosen}) go. Made by {@link CacheLimit#plan}; {@code modelcache gc} prints it.
 *
 * @param usedBytes the bytes in the models' repositories now (blobs, snapshots, refs, trees)
 * @param reservedBytes the bytes fetches of this process are downloading now
 * @param neededBytes the bytes the fetch that asks will download (0 for {@code gc})
 * @param evictable the snapshots nothing needs, least recently used first, each with the bytes its
 *     eviction frees after those before it
 * @param chosen how many of {@code evictable}, from the first, go; 0 when none must or when even
 *     all of them would not be enough ({@link #enough} false)
 * @param kept the unneeded snapshots kept anyway: used within {@link LastUse#IN_USE_WINDOW} (maybe
 *     loaded by another process) or with a blob being downloaded
 */
public record EvictionPlan(
    long maxBytes,
    long usedBytes,
    long reservedBytes,
    long neededBytes,
    List<Evictable> evictable,
    int chosen,
    int kept) {

  /**
   * One snapshot that no configured model, loaded version or {@code modelcache.lock} entry needs.
   *
   * @param label the model whose install record names it, with its repository and snapshot
   * @param bytes what evicting it frees once those before it are gone (blobs no kept snapshot
   *     links)
   * @param blobs the blobs it frees
   * @param record the install record naming it (a model no longer configured), removed with it
   */
  public record Evictable(
      String label,
      Path repo,
      Path snapshot,
      Instant lastUse,
      long bytes,
      List<Path> blobs,
      @Nullable Path record) {}

  /** The bytes over the limit once {@code neededBytes} are in: what eviction must free. */
  public long excessBytes() {
    return usedBytes + reservedBytes + neededBytes - maxBytes;
  }

  /** Whether the limit holds once the chosen snapshots are evicted. */
  public boolean enough() {
    return excessBytes() <= 0 || chosen > 0;
  }

  /** The snapshots that go, least recently used first. */
  public List<Evictable> toEvict() {
    return evictable.subList(0, chosen);
  }

  /** The bytes all evictable snapshots together free. */
  public long evictableBytes() {
    return evictable.stream().mapToLong(Evictable::bytes).sum();
  }

  /**
   * Why {@code model} cannot be fetched within the limit, with every number; only when {@link
   * #enough} is false.
   */
  public String failure(String model) {
    long evictableBytes = evictableBytes();
    return model
        + " - cache.max_bytes "
        + bytes(maxBytes)
        + " leaves no room for it: it needs "
        + bytes(neededBytes)
        + " more, the cache holds "
        + bytes(usedBytes)
        + (reservedBytes > 0 ? " (and fetches under way " + bytes(reservedBytes) + ")" : "")
        + ", so "
        + bytes(excessBytes())
        + " must go; "
        + bytes(evictableBytes)
        + " evictable"
        + (evictable.isEmpty()
            ? ""
            : " ("
                + evictable.stream().map(Evictable::label).collect(Collectors.joining(", "))
                + ")")
        + (kept > 0
            ? ", "
                + kept
                + " unneeded snapshot(s) kept (used in the last "
                + LastUse.IN_USE_WINDOW.toMinutes()
                + " minutes, or downloading)"
            : "")
        + ": "
        + bytes(excessBytes() - evictableBytes)
        + " short; nothing was evicted. Raise cache.max_bytes (MODELCACHE_CACHE_MAX_BYTES) or"
        + " remove models from the config or modelcache.lock";
  }

  /** {@code "1.20 GiB (1288490188 bytes)"}. */
  static String bytes(long bytes) {
    return ByteSize.human(bytes) + " (" + bytes + " bytes)";
  }
}
