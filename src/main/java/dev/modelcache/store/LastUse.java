package dev.modelcache.store;

import java.io.File;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When each snapshot was last used, for the least-recently-used order of eviction: the mtime of an
 * empty marker {@code .modelcache/used/{repository}/{snapshot}} (the repository's path from the
 * root, {@code /} as {@code -}, as for locks and parts). A use is recorded when a process fetches
 * the snapshot (or finds it up to date) and, while a daemon serves it, every {@link #RECORD_EVERY}
 * and when it stops; a process writes one snapshot's marker at most once per {@link #RECORD_EVERY},
 * so no request ever writes. A snapshot without a marker (installed by an older version, or by
 * huggingface_hub) was last used when its folder last changed.
 */
final class LastUse {
  /** The most often one process records one snapshot's use. */
  static final Duration RECORD_EVERY = Duration.ofMinutes(10);

  /**
   * A snapshot used more recently than this may be loaded by a process this one does not know of
   * (it records a served snapshot every {@link #RECORD_EVERY}): it is not evicted.
   */
  static final Duration IN_USE_WINDOW = RECORD_EVERY.multipliedBy(3);

  private final Path root;
  private final Clock clock;
  private final Map<Path, Instant> recorded = new ConcurrentHashMap<>();

  LastUse(Path root, Clock clock) {
    this.root = root;
    this.clock = clock;
  }

  /** Records a use of {@code snapshot} now, unless this process did within RECORD_EVERY. */
  void record(Path snapshot) throws IOException {
    Instant now = clock.instant();
    Instant last = recorded.get(snapshot);
    if (last != null && last.plus(RECORD_EVERY).isAfter(now)) {
      return;
    }
    Path marker = marker(snapshot);
    Files.createDirectories(marker.getParent());
    try {
      Files.createFile(marker);
    } catch (FileAlreadyExistsException e) {
      // used before: its mtime is moved below
    }
    Files.setLastModifiedTime(marker, FileTime.from(now));
    recorded.put(snapshot, now);
  }

  /**
   * The last use of {@code snapshot}: its marker's mtime, else its folder's; EPOCH when neither.
   */
  Instant read(Path snapshot) {
    for (Path path : new Path[] {marker(snapshot), snapshot}) {
      try {
        return Files.getLastModifiedTime(path, LinkOption.NOFOLLOW_LINKS).toInstant();
      } catch (IOException e) {
        // no marker: the folder's time stands in
      }
    }
    return Instant.EPOCH;
  }

  /** Forgets an evicted snapshot. */
  void forget(Path snapshot) throws IOException {
    recorded.remove(snapshot);
    Files.deleteIfExists(marker(snapshot));
  }

  private Path marker(Path snapshot) {
    Path snapshots = snapshot.toAbsolutePath().getParent();
    Path repo = snapshots == null ? null : snapshots.getParent();
    if (repo == null) {
      throw new IllegalArgumentException("not a snapshot folder: " + snapshot);
    }
    String repoName = root.relativize(repo).toString().replace(File.separatorChar, '-');
    return root.resolve(".modelcache")
        .resolve("used")
        .resolve(repoName)
        .resolve(snapshot.getFileName().toString());
  }
}
