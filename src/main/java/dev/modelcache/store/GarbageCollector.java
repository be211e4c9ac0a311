package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
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
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds what in the cache no configured model needs, and removes it on request: blobs and snapshots
 * that no install record of a configured model names (with the refs that point at such snapshots),
 * install records of models no longer configured, download parts ({@code .modelcache/tmp}, {@code
 * parts}) and set-aside verified files ({@code .modelcache/verified}) untouched for an hour, and
 * quarantined files.
 *
 * <p>It never removes what a configured model needs: every blob and the snapshot its install record
 * names, every blob of a configured model's repository when that model has no install record yet
 * (nothing says what it needs), every blob in {@code extraNeededBlobs}, and anything in a
 * repository modified within the last hour (a fetch may be installing it). It knows only the models
 * of its own config: on a volume shared by several configs, run it with a config naming all of
 * them.
 *
 * <pre>{@code
 * GarbageCollector gc = new GarbageCollector(store, config.models(), Set.of(), Clock.systemUTC());
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
  private final Set<Path> extraNeededBlobs;
  private final Clock clock;

  /**
   * @param extraNeededBlobs absolute blob paths to keep besides those of the install records: the
   *     hook for blobs that {@code modelcache.lock} pins
   */
  public GarbageCollector(
      CacheStore store, List<ModelConfig> models, Set<Path> extraNeededBlobs, Clock clock) {
    this.store = store;
    this.models = List.copyOf(models);
    this.extraNeededBlobs = Set.copyOf(extraNeededBlobs);
    this.clock = clock;
  }

  /** Everything removable, sorted by path. Reads only. */
  public List<Garbage> find() throws IOException {
    Instant cutoff = clock.instant().minus(GRACE);
    Set<Path> neededBlobs = new HashSet<>();
    extraNeededBlobs.forEach(p -> neededBlobs.add(p.toAbsolutePath().normalize()));
    Set<Path> neededSnapshots = new HashSet<>();
    Set<Path> keepWholeRepos = new HashSet<>();
    Set<Path> configuredRepos = new HashSet<>();
    Set<String> configuredNames = new HashSet<>();
    for (ModelConfig model : models) {
      configuredNames.add(model.name() + ".json");
      Path repo = store.repoDir(model);
      configuredRepos.add(repo);
      Optional<InstalledSnapshot> installed = store.installed(model);
      if (installed.isEmpty()) {
        keepWholeRepos.add(repo);
        continue;
      }
      neededSnapshots.add(installed.get().dir());
      for (InstalledFile file : installed.get().files()) {
        neededBlobs.add(file.blob());
      }
    }

    List<Garbage> garbage = new ArrayList<>();
    Path root = store.root();
    for (Path repo : repositories(root)) {
      if (keepWholeRepos.contains(repo)) {
        continue;
      }
      Set<Path> removedSnapshots = new HashSet<>();
      for (Path blob : children(repo.resolve("blobs"))) {
        if (!neededBlobs.contains(blob) && olderThan(blob, cutoff)) {
          garbage.add(new Garbage(Kind.BLOB, blob, bytes(blob)));
        }
      }
      for (Path snapshot : children(repo.resolve("snapshots"))) {
        if (!neededSnapshots.contains(snapshot) && olderThan(snapshot, cutoff)) {
          garbage.add(new Garbage(Kind.SNAPSHOT, snapshot, bytes(snapshot)));
          removedSnapshots.add(snapshot);
        }
      }
      for (Path ref : regularFiles(repo.resolve("refs"))) {
        Path target =
            repo.resolve("snapshots")
                .resolve(Files.readString(ref, StandardCharsets.UTF_8).strip());
        if (removedSnapshots.contains(target)
            || (!configuredRepos.contains(repo) && olderThan(ref, cutoff))) {
          garbage.add(new Garbage(Kind.REF, ref, bytes(ref)));
        }
      }
    }
    for (Path record : children(store.recordsDir())) {
      if (!configuredNames.contains(record.getFileName().toString())
          && record.getFileName().toString().endsWith(".json")) {
        garbage.add(new Garbage(Kind.RECORD, record, bytes(record)));
      }
    }
    // downloads abandoned for an hour: parts (with their range state), and verified files set aside
    // by a fetch
    // that did not finish (a download in progress touches its part all the time)
    Path state = store.root().resolve(".modelcache");
    for (Path dir : List.of(store.tempDir(), state.resolve("parts"), state.resolve("verified"))) {
      for (Path part : regularFiles(dir)) {
        if (olderThan(part, cutoff)) {
          garbage.add(new Garbage(Kind.PART, part, bytes(part)));
        }
      }
    }
    for (Path quarantined : regularFiles(store.quarantineDir())) {
      garbage.add(new Garbage(Kind.QUARANTINE, quarantined, bytes(quarantined)));
    }
    garbage.sort(Comparator.comparing(Garbage::path));
    return garbage;
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

  /** Repository folders: {@code hub/{models,datasets,spaces}--*}, {@code local/*}, {@code s3/*}. */
  private static List<Path> repositories(Path root) throws IOException {
    List<Path> repos = new ArrayList<>();
    for (Path repo : children(root.resolve("hub"))) {
      String name = repo.getFileName().toString();
      if (Files.isDirectory(repo, LinkOption.NOFOLLOW_LINKS)
          && (name.startsWith("models--")
              || name.startsWith("datasets--")
              || name.startsWith("spaces--"))) {
        repos.add(repo);
      }
    }
    for (String kind : List.of("local", "s3")) {
      for (Path repo : children(root.resolve(kind))) {
        if (Files.isDirectory(repo, LinkOption.NOFOLLOW_LINKS)) {
          repos.add(repo);
        }
      }
    }
    return repos;
  }

  private static List<Path> children(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    }
    List<Path> children = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
      stream.forEach(children::add);
    }
    return children;
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
  private static boolean deleteTree(Path path) throws IOException {
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
