package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds what in the cache no configured model needs, and removes it on request: blobs and snapshots
 * that no install record of a configured model names (with the refs that point at such snapshots,
 * and their Hub tree listings {@code trees/{commit}.json}), install records of models no longer
 * configured, download parts ({@code .modelcache/tmp}, {@code parts}) and set-aside verified files
 * ({@code .modelcache/verified}) untouched for an hour, and quarantined files.
 *
 * <p>It never removes what a configured model needs: every blob and the snapshot its install record
 * names, every blob of a configured model's repository when that model has no install record yet
 * (nothing says what it needs), and anything in a repository modified within the last hour (a fetch
 * may be installing it). Nor does it remove what {@code modelcache.lock} pins, configured or not (a
 * model taken out of the config for a while, or locked at a revision not fetched yet): the locked
 * snapshot with every blob it links to and the refs pointing at it, every blob named by a locked
 * SHA-256, and the model's install record. It knows only the models of its own config and lockfile:
 * on a volume shared by several configs, run it with a config naming all of them.
 *
 * <pre>{@code
 * GarbageCollector gc = new GarbageCollector(store, config.models(), lockfile, Clock.systemUTC());
 * List<GarbageCollector.Garbage> garbage = gc.find();
 * long reclaimed = gc.delete(garbage);
 * }</pre>
 */
public final class GarbageCollector {
  /** Parts and repository entries younger than this are kept. */
  public static final Duration GRACE = Duration.ofHours(1);

  /** What a removable path is. */
  public enum Kind {
    BLOB,
    SNAPSHOT,
    REF,
    TREE,
    RECORD,
    PART,
    QUARANTINE;

    @Override
    public String toString() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * One removable path.
   *
   * @param bytes the bytes of the regular files it holds (symlinks count nothing)
   */
  public record Garbage(Kind kind, Path path, long bytes) {}

  private final CacheStore store;
  private final List<ModelConfig> models;
  private final Lockfile lock;
  private final Clock clock;

  /**
   * @param lock {@code modelcache.lock} as read ({@link Lockfile#empty()} when there is none): what
   *     it pins is kept
   */
  public GarbageCollector(CacheStore store, List<ModelConfig> models, Lockfile lock, Clock clock) {
    this.store = store;
    this.models = List.copyOf(models);
    this.lock = lock;
    this.clock = clock;
  }

  /** Everything removable, sorted by path. Reads only. */
  public List<Garbage> find() throws IOException {
    Instant cutoff = clock.instant().minus(GRACE);
    CacheNeeds needed = CacheNeeds.of(store, models, lock);
    List<Garbage> garbage = new ArrayList<>();
    for (Path repo : CacheNeeds.repositories(store.root(), store.hubDir())) {
      if (!needed.keepWholeRepos.contains(repo)) {
        findInRepository(repo, needed, cutoff, garbage);
      }
    }
    for (Path record : CacheNeeds.children(store.layout().recordsDir())) {
      if (!needed.configuredNames.contains(record.getFileName().toString())
          && record.getFileName().toString().endsWith(".json")) {
        garbage.add(new Garbage(Kind.RECORD, record, bytes(record)));
      }
    }
    // downloads abandoned for an hour: parts (with their range state), and verified files set aside
    // by a fetch that did not finish (a download in progress touches its part all the time)
    Path state = store.root().resolve(".modelcache");
    for (Path dir :
        List.of(store.layout().tempDir(), state.resolve("parts"), state.resolve("verified"))) {
      for (Path part : regularFiles(dir)) {
        if (olderThan(part, cutoff)) {
          garbage.add(new Garbage(Kind.PART, part, bytes(part)));
        }
      }
    }
    for (Path quarantined : regularFiles(store.layout().quarantineDir())) {
      garbage.add(new Garbage(Kind.QUARANTINE, quarantined, bytes(quarantined)));
    }
    garbage.sort(Comparator.comparing(Garbage::path));
    return garbage;
  }

  /** The blobs, snapshots, tree listings and refs of {@code repo} that nothing needs. */
  private static void findInRepository(
      Path repo, CacheNeeds needed, Instant cutoff, List<Garbage> garbage) throws IOException {
    Set<Path> removedSnapshots = new HashSet<>();
    for (Path blob : CacheNeeds.children(repo.resolve("blobs"))) {
      if (!needed.blobs.contains(blob) && olderThan(blob, cutoff)) {
        garbage.add(new Garbage(Kind.BLOB, blob, bytes(blob)));
      }
    }
    for (Path snapshot : CacheNeeds.children(repo.resolve("snapshots"))) {
      if (!needed.snapshots.contains(snapshot) && olderThan(snapshot, cutoff)) {
        garbage.add(new Garbage(Kind.SNAPSHOT, snapshot, bytes(snapshot)));
        removedSnapshots.add(snapshot);
      }
    }
    // a Hub commit's tree listing (trees/{commit}.json) goes with its snapshot
    for (Path tree : CacheNeeds.children(repo.resolve("trees"))) {
      String name = tree.getFileName().toString();
      Path snapshot =
          repo.resolve("snapshots").resolve(name.substring(0, Math.max(0, name.length() - 5)));
      if (name.endsWith(".json")
          && (removedSnapshots.contains(snapshot)
              || (!Files.exists(snapshot, LinkOption.NOFOLLOW_LINKS) && olderThan(tree, cutoff)))) {
        garbage.add(new Garbage(Kind.TREE, tree, bytes(tree)));
      }
    }
    for (Path ref : regularFiles(repo.resolve("refs"))) {
      Path target =
          repo.resolve("snapshots").resolve(Files.readString(ref, StandardCharsets.UTF_8).strip());
      if (removedSnapshots.contains(target)
          || (!needed.configuredRepos.contains(repo) && olderThan(ref, cutoff))) {
        garbage.add(new Garbage(Kind.REF, ref, bytes(ref)));
      }
    }
  }

  /**
   * Removes {@code garbage} (as {@link #find} returned it) and returns the bytes reclaimed; a path
   * already gone counts nothing.
   */
  public long delete(List<Garbage> garbage) throws IOException {
    long reclaimed = 0;
    for (Garbage item : garbage) {
      if (deleteTree(item.path())) {
        reclaimed += item.bytes();
      }
    }
    return reclaimed;
  }

  /** The regular files under a folder (symlinks not followed); none when it does not exist. */
  private static List<Path> regularFiles(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList();
    }
  }

  /** Whether {@code path} and, for a folder, everything in it was last modified before cutoff. */
  private static boolean olderThan(Path path, Instant cutoff) throws IOException {
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (!Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(cutoff)) {
          return false;
        }
      }
    } catch (NoSuchFileException e) {
      return false; // gone or moving: not ours to judge now
    }
    return true;
  }

  private static long bytes(Path path) {
    return CacheStore.bytesUnder(path);
  }

  /** Deletes a file or folder without following symlinks; false when it was already gone. */
  static boolean deleteTree(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
    return true;
  }
}
