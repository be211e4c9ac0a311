package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.FileStamp;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stamps of a {@code file:} source's files, so that an unchanged file is found in the cache
 * instead of being copied again at every start.
 */
final class LocalStamps {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private final CacheStore store;

  LocalStamps(CacheStore store) {
    this.store = store;
  }

  /**
   * For a local source: the stamp (size, mtime, inode) of every file now, before a byte is read. An
   * unpinned file whose stamp is the one recorded when it was last copied, and whose blob is in
   * place, takes the digest recorded then (in {@code byPath}), so that it is found in the cache
   * instead of being copied again at every start, as {@code cache.verify: fast} trusts an unchanged
   * stamp; a changed file is read again.
   */
  Map<String, FileStamp> stamp(ModelConfig model, Map<String, SourceFile> byPath)
      throws IOException {
    Map<String, CacheStore.SourceStamp> recorded = store.sourceStamps(model);
    Map<String, FileStamp> now = new TreeMap<>();
    for (SourceFile file : List.copyOf(byPath.values())) {
      FileStamp stamp;
      try {
        stamp = FileStamp.of(model.source().directory().resolve(file.path()));
      } catch (IOException e) {
        continue; // vanished since the listing: the copy says so
      }
      now.put(file.path(), stamp);
      CacheStore.SourceStamp before = recorded.get(file.path());
      if (DigestPolicy.expectedSha256(model, file) == null
          && before != null
          && stamp.size() == file.size()
          && before.stamp().matches(stamp)
          && store.blob(model, before.sha256(), file.size()).isPresent()) {
        byPath.put(
            file.path(),
            new SourceFile(
                file.path(),
                file.size(),
                before.sha256(),
                null,
                "the digest recorded when it was last copied, its stamp unchanged since",
                null,
                null));
      }
    }
    return now;
  }

  /** Records the source stamps taken before the copy, with the digests of what was installed. */
  void record(ModelConfig model, Map<String, FileStamp> stamps, Map<String, String> sha256ByPath) {
    Map<String, CacheStore.SourceStamp> record = new TreeMap<>();
    stamps.forEach(
        (path, stamp) -> {
          String sha256 = sha256ByPath.get(path);
          if (sha256 != null) {
            record.put(path, new CacheStore.SourceStamp(stamp, sha256));
          }
        });
    try {
      store.recordSourceStamps(model, record);
    } catch (IOException e) {
      log.warn(
          "{} - cannot record the stamps of its source files ({}): the next fetch reads them all"
              + " again",
          model.name(),
          e.getMessage());
    }
  }
}
