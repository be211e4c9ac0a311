package dev.modelcache.cli;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.Lockfile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What {@code modelcache lock} would change in one model's entry of {@code modelcache.lock}, found
 * by listing upstream only ({@code lock --check}: nothing is downloaded or written): {@code iris:
 * main 3f1c2a9b0d4e -> 8e2b7c1f9a03: 1 file changed (model.pt), 0 added, 0 removed}. A Hub file is
 * compared by its etag (the LFS SHA-256 or git blob SHA-1) at the locked commit and now; an S3
 * object by its size, SHA-256, ETag and version id against the locked ones.
 */
final class LockDiff {
  private LockDiff() {}

  /**
   * One model's line.
   *
   * @param changes false when the lock entry already says what upstream holds
   */
  record Line(String text, boolean changes) {}

  static Line of(ModelConfig model, ModelSource source, Optional<Lockfile.Locked> locked)
      throws IOException {
    Snapshot now = source.resolve(model);
    String revisionNow = now.revision() != null ? now.revision() : "listing";
    if (locked.isEmpty() || !locked.get().source().equals(model.source().text())) {
      return new Line(
          String.format(
              "%s: not locked for %s; would lock %s, %d files",
              model.name(), model.source().text(), shortRevision(revisionNow), now.files().size()),
          true);
    }
    Lockfile.Locked lock = locked.get();
    Map<String, String> before = new TreeMap<>();
    Map<String, String> after = new TreeMap<>();
    if (model.source().scheme() == SourceRef.Scheme.HF && now.revision() != null) {
      if (now.revision().equals(lock.revision())) {
        return upToDate(model, lock);
      }
      SourceRef atLock =
          new SourceRef(
              SourceRef.Scheme.HF,
              model.source().location(),
              lock.revision(),
              model.source().repoType(),
              model.source().text() + " at " + lock.revision());
      source.resolve(model.with(atLock, model.sha256())).files().forEach(f -> put(before, f));
      now.files().forEach(f -> put(after, f));
    } else {
      for (Lockfile.LockedFile file : lock.files()) {
        before.put(file.path(), file.size() + " " + file.sha256());
      }
      for (SourceFile file : now.files()) {
        after.put(file.path(), identity(file, lock.file(file.path())));
      }
    }
    return describe(model, lock, revisionNow, before, after);
  }

  private static void put(Map<String, String> files, SourceFile file) {
    files.put(file.path(), file.size() + " " + file.etag());
  }

  /**
   * An S3 or local file's identity as the lock entry's is written ({@code size sha256}) when
   * nothing says it changed; else its own.
   */
  private static String identity(SourceFile file, Optional<Lockfile.LockedFile> locked) {
    if (locked.isEmpty()) {
      return "new";
    }
    Lockfile.LockedFile was = locked.get();
    boolean same =
        file.size() == was.size()
            && (file.sha256() == null || file.sha256().equals(was.sha256()))
            && (file.objectEtag() == null
                || was.etag() == null
                || file.objectEtag().equals(was.etag()))
            && (file.versionId() == null
                || was.versionId() == null
                || file.versionId().equals(was.versionId()));
    return same ? was.size() + " " + was.sha256() : "changed";
  }

  private static Line describe(
      ModelConfig model,
      Lockfile.Locked lock,
      String revisionNow,
      Map<String, String> before,
      Map<String, String> after) {
    List<String> changed = new ArrayList<>();
    List<String> added = new ArrayList<>();
    for (Map.Entry<String, String> file : after.entrySet()) {
      String was = before.get(file.getKey());
      if (was == null) {
        added.add(file.getKey());
      } else if (!was.equals(file.getValue())) {
        changed.add(file.getKey());
      }
    }
    TreeSet<String> removed = new TreeSet<>(before.keySet());
    removed.removeAll(after.keySet());
    if (changed.isEmpty() && added.isEmpty() && removed.isEmpty()) {
      return upToDate(model, lock);
    }
    String revision = model.source().revision();
    return new Line(
        String.format(
            "%s: %s%s -> %s: %s changed%s, %d added%s, %d removed%s",
            model.name(),
            revision == null ? "" : revision + " ",
            shortRevision(lock.revision()),
            shortRevision(revisionNow),
            changed.size() == 1 ? "1 file" : changed.size() + " files",
            listed(changed),
            added.size(),
            listed(added),
            removed.size(),
            listed(List.copyOf(removed))),
        true);
  }

  private static Line upToDate(ModelConfig model, Lockfile.Locked lock) {
    return new Line(
        String.format(
            "%s: up to date (%s at %s)",
            model.name(), model.source().text(), shortRevision(lock.revision())),
        false);
  }

  private static String listed(List<String> paths) {
    if (paths.isEmpty()) {
      return "";
    }
    int shown = Math.min(paths.size(), 5);
    return " ("
        + String.join(", ", paths.subList(0, shown))
        + (paths.size() > shown ? ", ..." : "")
        + ")";
  }

  /** The first 12 hex digits of a commit or snapshot id, as git shows it short. */
  static String shortRevision(String revision) {
    return Objects.requireNonNull(revision).matches("[0-9a-f]{40}")
        ? revision.substring(0, 12)
        : revision;
  }
}
