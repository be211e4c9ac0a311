package dev.modelcache.store;

import static dev.modelcache.store.CacheLayout.checkedSegment;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.CacheStore.Entry;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * Publishes verified downloads: a staged file set aside under {@code .modelcache/verified}, then
 * renamed into {@code blobs/}, the snapshot's symlinks, the install record and the ref, each step
 * atomic (see {@link CacheStore#install}); the Hub's {@code trees/} listings; and, the other way,
 * corrupted blobs out to {@code .modelcache/quarantine}.
 */
final class Installer {
  private static final DateTimeFormatter QUARANTINE_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

  private final CacheLayout layout;
  private final InstallRecords records;

  Installer(CacheLayout layout, InstallRecords records) {
    this.layout = layout;
    this.records = records;
  }

  /** See {@link CacheStore#install}. */
  InstalledSnapshot install(
      ModelConfig model, String snapshotId, @Nullable String ref, List<Entry> files)
      throws IOException {
    Path repo = layout.repoDir(model);
    Path blobs = repo.resolve("blobs");
    Path snapshot = repo.resolve("snapshots").resolve(checkedSegment(snapshotId));
    for (Entry file : files) {
      CacheLayout.checkRelativePath(file.path());
      checkedSegment(file.blob());
    }
    layout.realFolders(blobs, null);
    Files.createDirectories(blobs);
    Map<Path, FileStamp> previousStamps = records.stamps(model);
    Set<Path> moved = publishBlobs(blobs, files);
    List<InstalledFile> installed = new ArrayList<>();
    for (Entry file : files) {
      Path blob = blobs.resolve(file.blob());
      link(snapshot, file.path(), blob);
      // Stamp only bytes this install verified; a blob found in place keeps the stamp its last
      // verification gave it, or none, so that the next verification re-hashes it.
      FileStamp stamp = moved.contains(blob) ? FileStamp.of(blob) : previousStamps.get(blob);
      installed.add(new InstalledFile(file.path(), file.size(), file.sha256(), blob, stamp));
    }
    InstalledSnapshot result = new InstalledSnapshot(snapshotId, snapshot, installed);
    records.write(model, result);
    if (ref != null) {
      moveRef(repo.resolve("refs").resolve(ref), snapshotId);
    }
    return result;
  }

  /** Renames the staged files into {@code blobs}; returns the blobs it moved there. */
  private static Set<Path> publishBlobs(Path blobs, List<Entry> files) throws IOException {
    Set<Path> moved = new HashSet<>();
    for (Entry file : files) {
      if (file.staged() == null) {
        continue;
      }
      Path blob = blobs.resolve(file.blob());
      if (Files.isRegularFile(blob, LinkOption.NOFOLLOW_LINKS) && Files.size(blob) == file.size()) {
        Files.deleteIfExists(
            file.staged().temp()); // another process installed the same bytes first
      } else {
        AtomicFiles.move(file.staged().temp(), blob);
        moved.add(blob);
      }
    }
    if (!moved.isEmpty()) {
      AtomicFiles.fsyncDirectory(blobs);
    }
    return moved;
  }

  /** Points {@code path} of {@code snapshot} at {@code blob} by a relative symlink, atomically. */
  private void link(Path snapshot, String path, Path blob) throws IOException {
    Path link = snapshot.resolve(path);
    Path folder = AtomicFiles.folderOf(link);
    Path target = folder.relativize(blob);
    layout.realFolders(folder, snapshot);
    if (!Files.isSymbolicLink(link) || !Files.readSymbolicLink(link).equals(target)) {
      Files.createDirectories(folder);
      Path temp = link.resolveSibling("." + link.getFileName() + "." + UUID.randomUUID() + ".tmp");
      Files.createSymbolicLink(temp, target);
      AtomicFiles.move(temp, link);
      AtomicFiles.fsyncDirectory(folder);
    }
  }

  /** Replaces the ref file with {@code snapshotId} (no trailing newline) unless it holds it. */
  private void moveRef(Path refFile, String snapshotId) throws IOException {
    if (!Files.isRegularFile(refFile)
        || !Files.readString(refFile, StandardCharsets.UTF_8).equals(snapshotId)) {
      layout.realFolders(AtomicFiles.folderOf(refFile), null);
      Files.createDirectories(refFile.getParent());
      AtomicFiles.write(refFile, snapshotId);
    }
  }

  /** See {@link CacheStore#writeTree}. */
  void writeTree(ModelConfig model, String commit, List<HubTree.Entry> entries) throws IOException {
    Path trees = layout.repoDir(model).resolve("trees");
    Path file = trees.resolve(checkedSegment(commit) + ".json");
    String text = HubTree.json(entries);
    layout.realFolders(trees, null);
    if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
        && Files.readString(file, StandardCharsets.UTF_8).equals(text)) {
      return;
    }
    Files.createDirectories(trees);
    AtomicFiles.write(file, text);
  }

  /** See {@link CacheStore#setAside(ModelConfig, StagedFile, String)}. */
  StagedFile setAside(ModelConfig model, StagedFile staged, String blobName) throws IOException {
    Path dir = layout.stateDir("verified", model);
    Files.createDirectories(dir);
    Path target = dir.resolve(checkedSegment(blobName));
    AtomicFiles.move(staged.temp(), target);
    AtomicFiles.fsyncDirectory(dir);
    Files.deleteIfExists(RangeProgress.of(staged.temp())); // a ranged part's progress
    return new StagedFile(target, staged.size(), staged.sha256(), staged.gitSha1());
  }

  /** See {@link CacheStore#setAside(ModelConfig, String, long)}. */
  Optional<Path> setAside(ModelConfig model, String blobName, long size) throws IOException {
    Path file = layout.stateDir("verified", model).resolve(checkedSegment(blobName));
    return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && Files.size(file) == size
        ? Optional.of(file)
        : Optional.empty();
  }

  /** Deletes a staged file that will not be installed. */
  static void discard(StagedFile staged) {
    try {
      Files.deleteIfExists(staged.temp());
      Files.deleteIfExists(RangeProgress.of(staged.temp()));
    } catch (IOException e) {
      // A leftover temp file is harmless; the caller is already reporting the real failure.
    }
  }

  /** See {@link CacheStore#quarantine}. */
  Path quarantine(ModelConfig model, Path blob, Instant when) throws IOException {
    Path dir = layout.quarantineDir().resolve(checkedSegment(model.name()));
    Files.createDirectories(dir);
    String time = QUARANTINE_TIME.format(when);
    Path target = dir.resolve(time + "--" + blob.getFileName());
    for (int i = 2; Files.exists(target, LinkOption.NOFOLLOW_LINKS) && i < 1000; i++) {
      target = dir.resolve(time + "-" + i + "--" + blob.getFileName());
    }
    AtomicFiles.move(blob, target);
    AtomicFiles.fsyncDirectory(dir);
    AtomicFiles.fsyncDirectory(AtomicFiles.folderOf(blob));
    return target;
  }
}
