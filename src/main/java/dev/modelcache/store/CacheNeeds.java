package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What in the cache the configured models and {@code modelcache.lock} need kept, and the walks over
 * the repositories that {@link GarbageCollector} and {@link CacheLimit} share: every blob and the
 * snapshot a configured model's install record names (a whole repository while the model has no
 * record yet), and the snapshot, blobs and install record of each lockfile entry.
 */
final class CacheNeeds {
  final Set<Path> blobs = new HashSet<>();
  final Set<Path> snapshots = new HashSet<>();
  final Set<Path> keepWholeRepos = new HashSet<>();
  final Set<Path> configuredRepos = new HashSet<>();
  final Set<String> configuredNames = new HashSet<>();

  private CacheNeeds() {}

  static CacheNeeds of(CacheStore store, List<ModelConfig> models, Lockfile lock)
      throws IOException {
    CacheNeeds needed = new CacheNeeds();
    for (Map.Entry<String, Lockfile.Locked> entry : lock.models().entrySet()) {
      Lockfile.Locked locked = entry.getValue();
      needed.configuredNames.add(entry.getKey() + ".json");
      for (Path repo : lockedRepos(store, entry.getKey(), locked.source())) {
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

  /**
   * The repository folders a lockfile entry may live in, from its source text: {@code hf://} under
   * {@code hub/} (as a model or a dataset: the lockfile does not say which), {@code s3://} under
   * {@code s3/}, {@code oci://} under {@code oci/}, {@code file:} under {@code local/{name}},
   * {@code url} under {@code url/{name}}; only those that exist.
   */
  private static List<Path> lockedRepos(CacheStore store, String name, String source) {
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
    } else if (source.startsWith("oci://")) {
      String location = source.substring("oci://".length()).replaceFirst("[:@][^/]*$", "");
      candidates.add(store.repoDir(SourceRef.Scheme.OCI, location, null, name));
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
  static Set<Path> linkedBlobs(Path snapshot) throws IOException {
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

  /**
   * Repository folders: {@code hub/{models,datasets,spaces}--*}, {@code local/*}, {@code oci/*},
   * {@code s3/*}, {@code url/*}.
   */
  static List<Path> repositories(Path root, Path hubDir) throws IOException {
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
    for (String kind : List.of("local", "oci", "s3", "url")) {
      for (Path repo : children(root.resolve(kind))) {
        if (Files.isDirectory(repo, LinkOption.NOFOLLOW_LINKS)) {
          repos.add(repo);
        }
      }
    }
    return repos;
  }

  static List<Path> children(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    }
    List<Path> children = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
      stream.forEach(children::add);
    }
    return children;
  }
}
