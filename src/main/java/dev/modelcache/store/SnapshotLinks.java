package dev.modelcache.store;

import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What a loader reading a snapshot folder opens, checked: every path must reach its recorded blob
 * inside the cache, never through a symlink that leaves the cache root or leads to other bytes.
 * Verification and load both go through here, so both see the same bytes.
 */
final class SnapshotLinks {
  /** How {@link #realPath} ends its message about a snapshot path that is no link to a blob. */
  static final String NOT_LINKED = " does not link to its blob; run 'modelcache fetch'";

  private SnapshotLinks() {}

  /** See {@link CacheStore#realPath}. */
  static Path realPath(InstalledSnapshot snapshot, InstalledFile file) throws StoreException {
    Path root = snapshot.root();
    Path realRoot = realRoot(root);
    Path link = snapshot.dir().resolve(file.path());
    Path real;
    try {
      real = link.toRealPath();
    } catch (IOException e) {
      throw new StoreException(file.path() + ": " + link + NOT_LINKED, e);
    }
    if (!real.startsWith(realRoot)) {
      throw new StoreException(
          file.path() + ": " + leavesTheCache(link, real, root) + "; run 'modelcache fetch'", null);
    }
    if (!real.equals(realRoot.resolve(root.relativize(file.blob())))) {
      boolean leads =
          Files.isSymbolicLink(link) || !real.equals(realRoot.resolve(root.relativize(link)));
      throw new StoreException(
          file.path()
              + ": "
              + link
              + (leads
                  ? " leads to "
                      + real
                      + ", not to its blob "
                      + file.blob()
                      + ": other bytes; run 'modelcache fetch'"
                  : NOT_LINKED),
          null);
    }
    return real;
  }

  /**
   * Checks that the folder of {@code snapshot} is a folder of its repository: none of the folders
   * from the cache root down to it is a symlink (a symlinked repository or snapshot folder serves
   * other bytes than the ones verified, or bytes outside the cache).
   *
   * @throws StoreException naming the first symlinked folder and where it leads
   */
  static void checkFolders(InstalledSnapshot snapshot) throws StoreException {
    Path root = snapshot.root();
    Path at = root;
    for (Path name : root.relativize(snapshot.dir())) {
      at = at.resolve(name);
      if (!Files.isSymbolicLink(at)) {
        continue;
      }
      // a fetch replaces a symlinked snapshot folder; it writes nothing through any other
      String advice =
          at.equals(snapshot.dir())
              ? "; run 'modelcache fetch'"
              : "; replace it with a real folder, or set cache.dir to the real path";
      Path real;
      try {
        real = at.toRealPath();
      } catch (IOException e) {
        throw new StoreException(at + " is a symlink that leads nowhere" + advice, e);
      }
      if (!real.startsWith(realRoot(root))) {
        throw new StoreException(leavesTheCache(at, real, root) + advice, null);
      }
      throw new StoreException(
          at
              + " is a symlink to "
              + real
              + ": the folders of a snapshot must be folders of the cache, not links to other ones"
              + advice,
          null);
    }
  }

  /**
   * Checks that no symlink in the folder of {@code snapshot} that its install record does not name
   * leads out of the cache: a loader may read any file of the folder.
   *
   * @throws StoreException naming the first such symlink and where it leads
   */
  static void checkStrayLinks(InstalledSnapshot snapshot) throws StoreException {
    Path dir = snapshot.dir();
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Set<Path> recorded = new HashSet<>();
    snapshot.files().forEach(f -> recorded.add(dir.resolve(f.path())));
    Path root = snapshot.root();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path link : (Iterable<Path>) walk.filter(Files::isSymbolicLink)::iterator) {
        if (recorded.contains(link)) {
          continue;
        }
        Path real;
        try {
          real = link.toRealPath();
        } catch (IOException e) {
          continue; // leads nowhere: nothing can be read through it
        }
        if (!real.startsWith(realRoot(root))) {
          throw new StoreException(
              dir.relativize(link)
                  + ": "
                  + leavesTheCache(link, real, root)
                  + "; it is no file of snapshot "
                  + snapshot.id()
                  + ": remove it",
              null);
        }
      }
    } catch (StoreException e) {
      throw e;
    } catch (IOException | UncheckedIOException e) {
      throw new StoreException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  /** See {@link CacheStore#checkServable}. */
  static void checkServable(InstalledSnapshot snapshot) throws StoreException {
    checkFolders(snapshot);
    for (InstalledFile file : snapshot.files()) {
      realPath(snapshot, file);
    }
    checkStrayLinks(snapshot);
  }

  private static String leavesTheCache(Path link, Path real, Path root) {
    return link
        + " leads outside the cache "
        + root
        + ", to "
        + real
        + ": modelcache never follows a symlink out of the cache";
  }

  private static Path realRoot(Path root) throws StoreException {
    try {
      return root.toRealPath();
    } catch (IOException e) {
      throw new StoreException("the cache " + root + " cannot be read: " + e.getMessage(), e);
    }
  }
}
