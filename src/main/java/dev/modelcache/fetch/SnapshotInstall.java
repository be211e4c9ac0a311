package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.Snapshot;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.FileStamp;
import dev.modelcache.store.HubTree;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.StagedFile;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The end of one fetch: the snapshot installed once every file verified, and a line saying so. */
final class SnapshotInstall {
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private final CacheStore store;
  private final ModelStates states;
  private final Metrics metrics;
  private final Clock clock;
  private final Downloader downloader;
  private final LocalStamps localStamps;

  SnapshotInstall(
      CacheStore store,
      ModelStates states,
      Metrics metrics,
      Clock clock,
      Downloader downloader,
      LocalStamps localStamps) {
    this.store = store;
    this.states = states;
    this.metrics = metrics;
    this.clock = clock;
    this.downloader = downloader;
    this.localStamps = localStamps;
  }

  /** Installs the snapshot once every file of {@code plan} verified, and says so. */
  InstalledSnapshot install(
      FetchPlan plan,
      Map<String, StagedFile> staged,
      @Nullable String ref,
      Map<String, FileStamp> localStamps,
      Instant start)
      throws IOException {
    ModelConfig model = plan.model();
    Snapshot snapshot = plan.snapshot();
    boolean hub = model.source().scheme() == SourceRef.Scheme.HF;
    states.verifying(model.name());
    List<CacheStore.Entry> entries = plan.entries(staged, downloader);
    Map<String, String> sha256ByPath = new TreeMap<>();
    for (CacheStore.Entry entry : entries) {
      sha256ByPath.put(entry.path(), entry.sha256());
    }
    String id =
        hub || model.source().scheme() == SourceRef.Scheme.OCI
            ? Objects.requireNonNull(snapshot.revision(), "a Hub or OCI snapshot has its revision")
            : CacheStore.snapshotId(sha256ByPath);
    if (hub && !snapshot.tree().isEmpty()) {
      writeTree(model, id, snapshot);
    }
    InstalledSnapshot result = store.install(model, id, ref, entries);
    if (!localStamps.isEmpty()) {
      this.localStamps.record(model, localStamps, sha256ByPath);
    }
    Duration took = Duration.between(start, clock.instant());
    long toFetch = plan.toFetch();
    if (plan.missing().isEmpty()) {
      log.info(
          "{} - up to date: snapshot {} ({} files, {}, all in the cache)",
          model.name(),
          id,
          entries.size(),
          ByteSize.human(result.totalBytes()));
    } else {
      metrics.fetched(model.name(), took);
      log.info(
          "{} - installed snapshot {} ({} files, {} fetched in {} ms, {}/s)",
          model.name(),
          id,
          entries.size(),
          ByteSize.human(toFetch),
          took.toMillis(),
          ByteSize.human((long) (toFetch / Math.max(0.001, took.toMillis() / 1000.0))));
    }
    return result;
  }

  /** huggingface_hub needs the commit's tree listing to read a commit-pinned snapshot offline. */
  private void writeTree(ModelConfig model, String id, Snapshot snapshot) throws IOException {
    store.writeTree(
        model,
        id,
        snapshot.tree().stream()
            .map(
                f ->
                    new HubTree.Entry(
                        f.path(), f.size(), f.blobId(), f.lfsSha256(), f.lfsSize(), f.xetHash()))
            .toList());
  }
}
