package dev.modelcache.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.store.EvictionPlan.Evictable;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes {@link EvictionPlan}s: walks the repositories, sums their bytes, and lists the snapshots
 * that nothing needs (see {@link CacheNeeds}; nor loaded here, nor used within {@link
 * LastUse#IN_USE_WINDOW}, nor with a blob being downloaded), least recently used first, each with
 * the blobs that only it and the snapshots before it link.
 */
final class EvictionPlanner {
  private final CacheStore store;
  private final LastUse lastUse;
  private final Clock clock;
  private final ObjectMapper json = new ObjectMapper();

  EvictionPlanner(CacheStore store, LastUse lastUse, Clock clock) {
    this.store = store;
    this.lastUse = lastUse;
    this.clock = clock;
  }

  /** A snapshot found evictable, before its freed bytes are known. */
  private record Found(Path repo, Path snapshot, Instant lastUse, Set<Path> blobs) {}

  /** What the walk over the repositories found. */
  private record Walk(long used, int kept, Map<Path, Integer> links, List<Found> found) {}

  EvictionPlan plan(CacheLimit.Keep keep, long maxBytes, long reserved, long needed)
      throws IOException {
    CacheNeeds needs = CacheNeeds.of(store, keep.models(), keep.lock());
    Set<Path> neededBlobs = normalized(needs.blobs);
    Walk walk = walk(keep, needs);
    List<Found> found = new ArrayList<>(walk.found());
    found.sort(Comparator.comparing(Found::lastUse).thenComparing(f -> f.snapshot().toString()));
    Map<Path, Integer> links = walk.links();
    long used = walk.used();
    int kept = walk.kept();
    Map<Path, String> labels = recordedModels();
    List<Evictable> evictable = new ArrayList<>();
    long freed = 0;
    int chosen = 0;
    long excess = used + reserved + needed - maxBytes;
    for (Found f : found) {
      List<Path> blobs = new ArrayList<>();
      long bytes = 0;
      for (Path blob : f.blobs().stream().sorted().toList()) {
        if (links.merge(blob, -1, Integer::sum) == 0
            && !neededBlobs.contains(blob)
            && Files.isRegularFile(blob, LinkOption.NOFOLLOW_LINKS)) {
          blobs.add(blob);
          bytes += Files.size(blob);
        }
      }
      bytes += CacheStore.bytesUnder(f.snapshot()) + treeBytes(f);
      String model = labels.get(f.snapshot());
      String where =
          store.root().relativize(f.repo())
              + " snapshot "
              + name(f).substring(0, Math.min(12, name(f).length()));
      evictable.add(
          new Evictable(
              model == null ? where : model + " (" + where + ")",
              f.repo(),
              f.snapshot(),
              f.lastUse(),
              bytes,
              List.copyOf(blobs),
              model == null ? null : store.layout().recordsDir().resolve(model + ".json")));
      if (excess > 0 && freed < excess) {
        freed += bytes;
        chosen++;
      }
    }
    if (freed < excess) {
      chosen = 0; // evicting all of them would not be enough: evict nothing
    }
    return new EvictionPlan(maxBytes, used, reserved, needed, List.copyOf(evictable), chosen, kept);
  }

  /** Sums the repositories' bytes and finds the snapshots nothing needs, counting blob links. */
  private Walk walk(CacheLimit.Keep keep, CacheNeeds needs) throws IOException {
    Set<Path> neededSnapshots = normalized(needs.snapshots);
    neededSnapshots.addAll(normalized(keep.inUse()));
    Set<Path> wholeRepos = normalized(needs.keepWholeRepos);
    Instant recent = clock.instant().minus(LastUse.IN_USE_WINDOW);
    Map<Path, Integer> links = new HashMap<>();
    List<Found> found = new ArrayList<>();
    long used = 0;
    int kept = 0;
    for (Path repo : CacheNeeds.repositories(store.root(), store.hubDir())) {
      Path repoDir = repo.toAbsolutePath().normalize();
      used += CacheStore.bytesUnder(repoDir);
      for (Path snapshot : CacheNeeds.children(repoDir.resolve("snapshots"))) {
        Set<Path> blobs = CacheNeeds.linkedBlobs(snapshot);
        blobs.forEach(b -> links.merge(b, 1, Integer::sum));
        if (wholeRepos.contains(repoDir) || neededSnapshots.contains(snapshot)) {
          continue;
        }
        Instant last = lastUse.read(snapshot);
        if (last.isAfter(recent) || downloading(repoDir, blobs)) {
          kept++;
          continue;
        }
        found.add(new Found(repoDir, snapshot, last, blobs));
      }
    }
    return new Walk(used, kept, links, found);
  }

  private static String name(Found f) {
    return f.snapshot().getFileName().toString();
  }

  private static long treeBytes(Found f) {
    Path tree = f.repo().resolve("trees").resolve(name(f) + ".json");
    return Files.isRegularFile(tree, LinkOption.NOFOLLOW_LINKS) ? CacheStore.bytesUnder(tree) : 0;
  }

  /** Whether a blob of the snapshot is being downloaded, here or by another process. */
  private boolean downloading(Path repo, Set<Path> blobs) {
    Path locks =
        store
            .root()
            .resolve(".modelcache")
            .resolve("locks")
            .resolve(store.root().relativize(repo).toString().replace(File.separatorChar, '-'));
    for (Path blob : blobs) {
      if (BlobLock.held(locks.resolve(blob.getFileName() + ".lock"))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The models whose install records (configured or not) name a snapshot, by snapshot folder: the
   * names the plan shows.
   */
  private Map<Path, String> recordedModels() {
    Map<Path, String> names = new HashMap<>();
    for (Path record : childrenOrNone(store.layout().recordsDir())) {
      String file = record.getFileName().toString();
      if (!file.endsWith(".json")) {
        continue;
      }
      try {
        JsonNode node = json.readTree(record.toFile());
        String repo = node.path("repo").asText("");
        String snapshot = node.path("snapshot").asText("");
        if (!repo.isEmpty() && !snapshot.isEmpty() && !Path.of(repo).isAbsolute()) {
          Path dir = store.root().resolve(repo).resolve("snapshots").resolve(snapshot);
          names.put(dir.normalize(), file.substring(0, file.length() - ".json".length()));
        }
      } catch (IOException | RuntimeException e) {
        // an unreadable record names nothing: the snapshot is shown by its repository
      }
    }
    return names;
  }

  private static List<Path> childrenOrNone(Path dir) {
    try {
      return CacheNeeds.children(dir);
    } catch (IOException e) {
      return List.of();
    }
  }

  private static Set<Path> normalized(Set<Path> paths) {
    Set<Path> out = new HashSet<>();
    for (Path p : paths) {
      out.add(p.toAbsolutePath().normalize());
    }
    return out;
  }
}
