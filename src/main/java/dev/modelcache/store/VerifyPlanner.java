package dev.modelcache.store;

import static dev.modelcache.store.VerifyFindings.fetchAdvice;

import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import dev.modelcache.store.Verifier.Kind;
import dev.modelcache.store.Verifier.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The cheap part of a verification, in the caller's thread: the install record, pins, blobs, links
 * and stamps of one model, without reading a byte of a file; what is left is the list of files to
 * hash.
 */
final class VerifyPlanner {
  /** Planning a file or the folders comes after the install record named the snapshot. */
  private static final String SNAPSHOT_FOUND = "the snapshot is found first";

  private final CacheStore store;
  private final VerifyFindings findings;

  VerifyPlanner(CacheStore store, VerifyFindings findings) {
    this.store = store;
    this.findings = findings;
  }

  VerifyPlan plan(ModelConfig model, VerifyMode mode) {
    long start = System.nanoTime();
    VerifyPlan plan = new VerifyPlan(model, mode);
    Optional<InstalledSnapshot> installed;
    try {
      installed = store.installed(model);
    } catch (IOException e) {
      plan.problems.add(
          VerifyFindings.unreadable(
              model,
              null,
              "cannot read its install record: " + e.getMessage() + "; run 'modelcache fetch'"));
      plan.nanos = System.nanoTime() - start;
      return plan;
    }
    if (installed.isEmpty()) {
      plan.problems.add(fetchAdvice(VerifyFindings.notInstalled(store, model)));
      plan.nanos = System.nanoTime() - start;
      return plan;
    }
    plan.snapshot = installed.get();
    planFolders(plan);
    for (InstalledFile file : plan.snapshot.files()) {
      try {
        planFile(plan, file);
      } catch (IOException e) {
        plan.problems.add(
            VerifyFindings.unreadable(
                model, file.path(), file.path() + ": cannot check blob " + file.blob() + ": " + e));
      }
    }
    for (String pinned : model.sha256().keySet()) {
      if (plan.snapshot.files().stream().noneMatch(f -> f.path().equals(pinned))) {
        plan.problems.add(VerifyFindings.pinNotInstalled(model, pinned, plan.snapshot));
      }
    }
    plan.nanos = System.nanoTime() - start;
    return plan;
  }

  /** The snapshot's folders and the links no record names (see {@link SnapshotLinks}). */
  private void planFolders(VerifyPlan plan) {
    InstalledSnapshot snapshot = Objects.requireNonNull(plan.snapshot, SNAPSHOT_FOUND);
    try {
      SnapshotLinks.checkFolders(snapshot);
    } catch (StoreException e) {
      plan.problems.add(findings.unsafeLink(plan.model, null, e));
      plan.foldersUnsafe = true;
    }
    try {
      SnapshotLinks.checkStrayLinks(snapshot);
    } catch (StoreException e) {
      plan.problems.add(findings.unsafeLink(plan.model, null, e));
    }
  }

  /** Checks one file without reading it: blob, link, pin, stamp. */
  private void planFile(VerifyPlan plan, InstalledFile file) throws IOException {
    ModelConfig model = plan.model;
    if (Files.isSymbolicLink(file.blob())) {
      // a blob holds its bytes: a symlink there serves bytes no install verified
      String target = Files.readSymbolicLink(file.blob()).toString();
      plan.problems.add(
          findings.unsafeLink(
              model,
              file.path(),
              file.path()
                  + ": blob "
                  + file.blob()
                  + " is a symlink to "
                  + target
                  + ", not the bytes verified at install; the link "
                  + findings.quarantine(model, file)
                  + "; run 'modelcache fetch'"));
      return;
    }
    if (!Files.isRegularFile(file.blob(), LinkOption.NOFOLLOW_LINKS)) {
      plan.problems.add(fetchAdvice(VerifyFindings.missingBlob(model, file)));
      return;
    }
    Path real = plan.foldersUnsafe ? null : realPath(plan, file);
    String pin = model.sha256().get(file.path());
    if (pin != null && !pin.equals(file.sha256())) {
      plan.problems.add(VerifyFindings.pinMismatch(model, file.path(), pin, file.sha256()));
    }
    if (real == null) {
      return; // nothing verified would be served through it: reported, not hashed
    }
    FileStamp now = FileStamp.of(real);
    if (plan.mode == VerifyMode.FULL || file.stamp() == null || !file.stamp().matches(now)) {
      plan.toHash.add(file);
      plan.real.put(file, real);
    }
  }

  /** Where a load reads {@code file}, or null (the problem reported) when it is unsafe. */
  private @Nullable Path realPath(VerifyPlan plan, InstalledFile file) {
    try {
      return SnapshotLinks.realPath(Objects.requireNonNull(plan.snapshot, SNAPSHOT_FOUND), file);
    } catch (StoreException e) {
      plan.problems.add(
          Objects.requireNonNull(e.getMessage(), "a StoreException has a message")
                  .endsWith(SnapshotLinks.NOT_LINKED)
              ? new Problem(Kind.LINK, file.path(), plan.model.name() + " - " + e.getMessage())
              : findings.unsafeLink(plan.model, file.path(), e));
      return null;
    }
  }
}
