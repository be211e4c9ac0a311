package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.Lockfile;
import dev.modelcache.store.StagedFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * What one fetch of a model does, once its listing is checked against the pins and the lockfile:
 * the files listed, those the cache already holds, and those to download.
 */
record FetchPlan(
    ModelConfig model,
    Snapshot snapshot,
    Map<String, SourceFile> byPath,
    Map<String, CacheStore.Entry> present,
    List<SourceFile> missing) {

  /** The listed files by path, each path checked to stay inside the snapshot. */
  static Map<String, SourceFile> byPath(Snapshot snapshot) throws IOException {
    Map<String, SourceFile> byPath = new TreeMap<>();
    for (SourceFile file : snapshot.files()) {
      CacheStore.checkRelativePath(file.path());
      byPath.put(file.path(), file);
    }
    return byPath;
  }

  /**
   * Checks the listing against the lockfile ({@code --frozen}), the pins and {@code require_pins}
   * before anything is downloaded; returns the model with the pins of its S3 lock entry.
   */
  static ModelConfig checkListing(
      ModelConfig given,
      Map<String, SourceFile> byPath,
      Lockfile.@Nullable Locked frozen,
      Lockfile.@Nullable Locked objectLock,
      DigestPolicy digests)
      throws IOException {
    if (frozen != null) {
      LockCheck.compareUpstream(given, byPath, frozen);
    }
    ModelConfig model = objectLock != null ? objectPins(given, byPath, objectLock, digests) : given;
    digests.checkPins(model, byPath);
    DigestPolicy.checkVouched(model, byPath);
    return model;
  }

  /** {@code model} with the pins its S3 lock entry gives now that the objects are listed. */
  private static ModelConfig objectPins(
      ModelConfig model,
      Map<String, SourceFile> upstream,
      Lockfile.Locked lock,
      DigestPolicy digests) {
    LockCheck.Pinned pinned = LockCheck.objectPins(model, upstream, lock);
    digests.pinnedFromLock(model.name(), pinned.fromLock());
    return pinned.model();
  }

  /** Sorts the listed files {@code byPath} into those the cache holds and those it lacks. */
  static FetchPlan of(
      ModelConfig model, Snapshot snapshot, Map<String, SourceFile> byPath, Downloader downloader)
      throws IOException {
    Map<String, CacheStore.Entry> present = new LinkedHashMap<>();
    List<SourceFile> missing = new ArrayList<>();
    for (SourceFile file : byPath.values()) {
      Optional<CacheStore.Entry> entry = downloader.inCache(model, file);
      if (entry.isPresent()) {
        present.put(file.path(), entry.get());
      } else {
        missing.add(file);
      }
    }
    return new FetchPlan(model, snapshot, byPath, present, missing);
  }

  /** The bytes to download. */
  long toFetch() {
    return missing.stream().mapToLong(SourceFile::size).sum();
  }

  /** Every listed file's entry once the missing ones are {@code staged}, in listing order. */
  List<CacheStore.Entry> entries(Map<String, StagedFile> staged, Downloader downloader)
      throws IOException {
    boolean hub = model.source().scheme() == SourceRef.Scheme.HF;
    List<CacheStore.Entry> entries = new ArrayList<>();
    for (SourceFile file : byPath.values()) {
      CacheStore.Entry entry = present.get(file.path());
      if (entry == null) {
        StagedFile copy = staged.get(file.path());
        entry =
            copy != null
                ? new CacheStore.Entry(
                    file.path(),
                    hub ? Objects.requireNonNull(file.etag(), Downloader.HUB_ETAG) : copy.sha256(),
                    copy.size(),
                    copy.sha256(),
                    copy)
                : downloader
                    .inCache(model, file)
                    .orElseThrow(
                        () ->
                            new IOException(
                                model.name() + " - " + file.path() + " vanished from the cache"));
      }
      entries.add(entry);
    }
    return entries;
  }
}
