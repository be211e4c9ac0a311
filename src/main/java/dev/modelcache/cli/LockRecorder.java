package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records in {@code modelcache.lock} what a fetch of an S3, Azure or url model learnt: the SHA-256
 * of files trusted on first use, and the ETag and version id of every object (the URL of every url
 * file), so that the next fetch downloads only what changed upstream. Hub and local models are
 * locked by {@code modelcache lock} only.
 */
final class LockRecorder {
  private static final Logger log = LoggerFactory.getLogger(LockRecorder.class);

  private LockRecorder() {}

  static void record(
      Config config, Fetcher fetcher, ModelConfig model, InstalledSnapshot snapshot) {
    SourceRef.Scheme scheme = model.source().scheme();
    boolean learns =
        scheme == SourceRef.Scheme.S3
            || scheme == SourceRef.Scheme.GCS
            || scheme == SourceRef.Scheme.URL
            || scheme == SourceRef.Scheme.AZURE;
    if (!learns || fetcher.servedFromCache(model)) {
      return; // served from the cache, the source unreachable: nothing new was learnt
    }
    if (config.verification().requireSignature()) {
      return; // a signed lockfile is held to exactly and never rewritten: 'lock --sign' updates it
    }
    Lockfile.Locked entry = fetcher.lockEntry(model, snapshot);
    synchronized (LockRecorder.class) {
      try {
        Lockfile current = Lockfile.read(config.lockfile());
        if (current.model(model.name()).filter(entry::equals).isPresent()) {
          return;
        }
        current.with(model.name(), entry).write(config.lockfile());
        log.info(
            "{} - recorded {} files (sha256, {}) in {}",
            model.name(),
            entry.files().size(),
            scheme == SourceRef.Scheme.URL ? "URL" : "ETag, version id",
            config.lockfile());
      } catch (IOException e) {
        log.warn(
            "{} - cannot record the objects' digests in {} ({}): files nothing vouches for will be"
                + " downloaded again by the next fetch; run 'modelcache lock' where it can be written",
            model.name(),
            config.lockfile(),
            e.getMessage());
      }
    }
  }
}
