package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
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
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
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
    Needed needed = needed();
    List<Garbage> garbage = new ArrayList<>();
    for (Path repo : repositories(store.root(), store.hubDir())) {
      if (!needed.keepWholeRepos.contains(repo)) {
        findInRepository(repo, needed, cutoff, garbage);
      }
    }
    for (Path record : children(store.layout().recordsDir())) {
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

  /** What the lockfile and the configured models need kept. */
  private static final class Needed {
    final Set<Path> blobs = new HashSet<>();
    final Set<Path> snapshots = new HashSet<>();
    final Set<Path> keepWholeRepos = new HashSet<>();
    final Set<Path> configuredRepos = new HashSet<>();
    final Set<String> configuredNames = new HashSet<>();
  }

  private Needed needed() throws IOException {
    Needed needed = new Needed();
    for (Map.Entry<String, Lockfile.Locked> entry : lock.models().entrySet()) {
      Lockfile.Locked locked = entry.getValue();
      needed.configuredNames.add(entry.getKey() + ".json");
      for (Path repo : lockedRepos(entry.getKey(), locked.source())) {
        needed.configuredRepos.add(repo);
        for (Lockfile.LockedFile file : locked.files()) {
          needed.blobs.add(repo.resolve("blobs").resolve(file.sha256()));
        }
        Path snapshot = repo.resolve("snapshots").resolve(locked.revision());
        needed.snapshots.add(snapshot);
        needed.blobs.addAll(linkedBlobs(snapshot));
      }
    }
    for (ModelConfig model : models) {
      needed.configuredNames.add(model.name() + ".json");
      Path repo = store.repoDir(model);
      needed.configuredRepos.add(repo);
      Optional<InstalledSnapshot> installed = store.installed(model);
      if (installed.isEmpty()) {
        needed.keepWholeRepos.add(repo);
        continue;
      }
      needed.snapshots.add(installed.get().dir());
      for (InstalledFile file : installed.get().files()) {
        needed.blobs.add(file.blob());
      }
    }
    return needed;
  }

  /** The blobs, snapshots, tree listings and refs of {@code repo} that nothing needs. */
  private static void findInRepository(
      Path repo, Needed needed, Instant cutoff, List<Garbage> garbage) throws IOException {
    Set<Path> removedSnapshots = new HashSet<>();
    for (Path blob : children(repo.resolve("blobs"))) {
      if (!needed.blobs.contains(blob) && olderThan(blob, cutoff)) {
        garbage.add(new Garbage(Kind.BLOB, blob, bytes(blob)));
      }
    }
    for (Path snapshot : children(repo.resolve("snapshots"))) {
      if (!needed.snapshots.contains(snapshot) && olderThan(snapshot, cutoff)) {
        garbage.add(new Garbage(Kind.SNAPSHOT, snapshot, bytes(snapshot)));
        removedSnapshots.add(snapshot);
      }
    }
    // a Hub commit's tree listing (trees/{commit}.json) goes with its snapshot
    for (Path tree : children(repo.resolve("trees"))) {
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

  /**
   * The repository folders a lockfile entry may live in, from its source text: {@code hf://} under
   * {@code hub/} (as a model or a dataset: the lockfile does not say which), {@code s3://} under
   * {@code s3/}, {@code az://} under {@code azure/}, {@code file:} under {@code local/{name}},
   * {@code url} under {@code url/{name}}; only those that exist.
   */
  private List<Path> lockedRepos(String name, String source) {
    Path root = store.root();
    List<Path> candidates = new ArrayList<>();
    if (source.startsWith("hf://")) {
      String repoId = source.substring("hf://".length());
      int at = repoId.indexOf('@');
      repoId = at < 0 ? repoId : repoId.substring(0, at);
      for (String type : List.of("model", "dataset")) {
        candidates.add(store.repoDir(SourceRef.Scheme.HF, repoId, type, name));
      }
    } else if (source.startsWith("s3://")) {
      String location = source.substring("s3://".length());
      candidates.add(store.repoDir(SourceRef.Scheme.S3, location, null, name));
    } else if (SourceRef.azureLocation(source) != null) {
      String location = Objects.requireNonNull(SourceRef.azureLocation(source));
      candidates.add(store.repoDir(SourceRef.Scheme.AZURE, location, null, name));
    } else if (source.equals("url")) {
      candidates.add(store.repoDir(SourceRef.Scheme.URL, source, null, name));
    } else {
      candidates.add(store.repoDir(SourceRef.Scheme.FILE, source, null, name));
    }
    return candidates.stream()
        .map(p -> p.toAbsolutePath().normalize())
        .filter(p -> p.startsWith(root.toAbsolutePath().normalize()))
        .filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
        .toList();
  }

  /** The blobs the symlinks under a snapshot folder point at (none when it does not exist). */
  private static Set<Path> linkedBlobs(Path snapshot) throws IOException {
    Set<Path> blobs = new HashSet<>();
    if (!Files.isDirectory(snapshot, LinkOption.NOFOLLOW_LINKS)) {
      return blobs;
    }
    try (Stream<Path> walk = Files.walk(snapshot)) {
      for (Path link : (Iterable<Path>) walk.filter(Files::isSymbolicLink)::iterator) {
        blobs.add(link.resolveSibling(Files.readSymbolicLink(link)).toAbsolutePath().normalize());
      }
    }
    return blobs;
  }

  /** Repository folders: {@code hub/{models,datasets,spaces}--*}, {@code local/*}, {@code s3/*}. */
  private static List<Path> repositories(Path root, Path hubDir) throws IOException {
    List<Path> repos = new ArrayList<>();
    for (Path repo : children(hubDir)) {
      String name = repo.getFileName().toString();
      if (Files.isDirectory(repo, LinkOption.NOFOLLOW_LINKS)
          && (name.startsWith("models--")
              || name.startsWith("datasets--")
              || name.startsWith("spaces--"))) {
        repos.add(repo);
      }
    }
    for (String kind : List.of("local", "s3", "url", "azure")) {
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
