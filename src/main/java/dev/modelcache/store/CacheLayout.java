package dev.modelcache.store;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Where everything lives under the cache root (see {@link CacheStore} for the layout): repository
 * folders, and modelcache's own state under {@code .modelcache/}; with the checks that keep a name
 * from the outside, and what install writes, inside the cache.
 */
final class CacheLayout {
  private static final Pattern SHA1_HEX = Pattern.compile("[0-9a-f]{40}");

  private final Path root;
  private final Path hubDir;

  /**
   * @param hubDir where the Hub's repositories go: a folder directly in {@code root}
   */
  CacheLayout(Path root, Path hubDir) {
    this.root = root.toAbsolutePath().normalize();
    this.hubDir = hubDir.toAbsolutePath().normalize();
    if (!this.root.equals(this.hubDir.getParent())) {
      throw new IllegalArgumentException(
          "the Hub cache ("
              + hubDir
              + ") must be a folder directly in the cache root ("
              + root
              + ")");
    }
  }

  Path root() {
    return root;
  }

  Path hubDir() {
    return hubDir;
  }

  Path repoDir(ModelConfig model) {
    SourceRef source = model.source();
    return repoDir(source.scheme(), source.location(), source.repoType(), model.name());
  }

  Path repoDir(SourceRef.Scheme scheme, String location, @Nullable String repoType, String name) {
    return switch (scheme) {
      case FILE -> root.resolve("local").resolve(name);
      case HF ->
          hubDir.resolve(
              hubFolder(
                  Objects.requireNonNull(repoType, "an hf:// source has a repo type"), location));
      case S3 -> root.resolve("s3").resolve(location.replace("/", "--"));
      case GCS -> root.resolve("gcs").resolve(location.replace("/", "--"));
      case URL -> root.resolve("url").resolve(name);
      case OCI -> root.resolve("oci").resolve(ociFolder(location));
      case AZURE -> root.resolve("azure").resolve(location.replace("/", "--"));
    };
  }

  /**
   * {@code {registry}--{repository}} of {@code registry/repository}, '/' as '--' and the port's ':'
   * as '_' ({@code 127.0.0.1_5000--team--iris}).
   */
  static String ociFolder(String location) {
    int slash = location.indexOf('/');
    return location.substring(0, slash).replace(':', '_').replace("[", "").replace("]", "")
        + "--"
        + location.substring(slash + 1).replace("/", "--");
  }

  static String hubFolder(String repoType, String repoId) {
    return repoType + "s--" + repoId.replace("/", "--");
  }

  static @Nullable String refName(ModelConfig model) {
    if (model.source().scheme() == SourceRef.Scheme.OCI) {
      // a tag is a ref, as a Hub branch is; a digest pins the snapshot itself
      return model.source().ociDigest() != null ? null : model.source().revision();
    }
    if (model.source().scheme() != SourceRef.Scheme.HF) {
      return "main";
    }
    String revision = model.source().revision();
    return SHA1_HEX.matcher(revision).matches() ? null : revision;
  }

  /** {@code .modelcache/{kind}/{repository}}: modelcache's state of one kind about a model. */
  Path stateDir(String kind, ModelConfig model) {
    return root.resolve(".modelcache")
        .resolve(kind)
        .resolve(root.relativize(repoDir(model)).toString().replace(File.separatorChar, '-'));
  }

  Path tempDir() {
    return root.resolve(".modelcache").resolve("tmp");
  }

  Path quarantineDir() {
    return root.resolve(".modelcache").resolve("quarantine");
  }

  Path recordsDir() {
    return root.resolve(".modelcache").resolve("models");
  }

  Path recordFile(ModelConfig model) {
    return recordsDir().resolve(model.name() + ".json");
  }

  Path sourceStampsFile(ModelConfig model) throws IOException {
    return root.resolve(".modelcache")
        .resolve("sources")
        .resolve(checkedSegment(model.name()) + ".json");
  }

  /** {@code path} relative to the cache root, '/'-separated: how records name paths. */
  String relative(Path path) {
    return root.relativize(path).toString().replace(File.separatorChar, '/');
  }

  /**
   * Whether an install record's {@code repo} names {@code repo}: a path relative to the cache root,
   * as records are written, or an absolute one, as records written before were. An absolute one is
   * re-rooted (its tail compared), for the cache may have been moved or mounted elsewhere since.
   */
  boolean recordedRepo(Path repo, String recorded) {
    Path relative = root.relativize(repo);
    Path path;
    try {
      path = Path.of(recorded);
    } catch (InvalidPathException e) {
      return false;
    }
    return path.isAbsolute() ? path.endsWith(relative) : path.equals(relative);
  }

  /**
   * Makes sure that what install writes under {@code dir} stays in the cache: no folder from the
   * root down to {@code dir} may be a symlink. One at or under {@code replaceable} (a snapshot
   * folder, rebuilt from the blobs) is removed, the link only, never what it leads to; any other is
   * an error naming it.
   */
  void realFolders(Path dir, @Nullable Path replaceable) throws IOException {
    Path at = root;
    for (Path name : root.relativize(dir)) {
      at = at.resolve(name);
      if (!Files.isSymbolicLink(at)) {
        continue;
      }
      if (replaceable != null && at.startsWith(replaceable)) {
        Files.delete(at);
        continue;
      }
      throw new StoreException(
          at
              + " is a symlink to "
              + Files.readSymbolicLink(at)
              + ": modelcache writes nothing through a symlink in the cache; replace it with a"
              + " folder, or set cache.dir to the real path",
          null);
    }
  }

  /**
   * Refuses a path from an upstream listing that could escape the model's folder: absolute, with
   * {@code ..} or empty segments, backslashes or control characters.
   */
  static String checkRelativePath(String path) throws IOException {
    boolean bad =
        path.isEmpty()
            || path.startsWith("/")
            || path.contains("\\")
            || path.chars().anyMatch(c -> c < 0x20);
    if (!bad) {
      for (String segment : path.split("/", -1)) {
        if (segment.isEmpty() || segment.equals("..") || segment.equals(".")) {
          bad = true;
          break;
        }
      }
    }
    if (bad) {
      throw new IOException(
          "refusing file path '"
              + path.replaceAll("\\p{Cntrl}", "?")
              + "' from the source: it is absolute, has '..', '.' or empty segments, or control characters, and"
              + " could escape the model's folder");
    }
    return path;
  }

  /** Refuses a name that is not one path segment (a blob, a key, a model's name). */
  static String checkedSegment(String name) throws IOException {
    if (name.isEmpty()
        || name.contains("/")
        || name.contains("\\")
        || name.equals("..")
        || name.equals(".")) {
      throw new IOException("refusing name '" + name + "': it must be a single path segment");
    }
    return name;
  }
}
