package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.StagedFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
                    hub ? file.etag() : copy.sha256(),
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
