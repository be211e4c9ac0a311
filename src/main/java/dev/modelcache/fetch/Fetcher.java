package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelStates;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.ChecksumMismatchException;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import dev.modelcache.store.StagedFile;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings one model from its source onto the volume: lists it, streams every file into the store
 * while hashing it, checks each digest against the config's pins (and the source's own digest where
 * it has one), and installs the snapshot only when every file matched. A mismatch installs nothing.
 *
 * <pre>{@code
 * InstalledSnapshot snapshot = new Fetcher(store, sources, states, metrics, clock).fetch(model);
 * }</pre>
 */
public final class Fetcher {
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private final CacheStore store;
  private final Map<SourceRef.Scheme, ModelSource> sources;
  private final ModelStates states;
  private final Metrics metrics;
  private final Clock clock;

  public Fetcher(
      CacheStore store,
      Map<SourceRef.Scheme, ModelSource> sources,
      ModelStates states,
      Metrics metrics,
      Clock clock) {
    this.store = store;
    this.sources = Map.copyOf(sources);
    this.states = states;
    this.metrics = metrics;
    this.clock = clock;
  }

  /**
   * Fetches and verifies {@code model}, or returns its current snapshot when the pins show it is up
   * to date.
   */
  public InstalledSnapshot fetch(ModelConfig model) throws IOException {
    ModelSource source = sources.get(model.source().scheme());
    if (source == null) {
      throw new SourceException(
          model.name() + " - no source for " + model.source().scheme() + " in this version");
    }
    Instant start = clock.instant();
    Snapshot snapshot = source.resolve(model);
    Map<String, SourceFile> byPath = new TreeMap<>();
    snapshot.files().forEach(f -> byPath.put(f.path(), f));
    for (String pinned : model.sha256().keySet()) {
      if (!byPath.containsKey(pinned)) {
        throw new SourceException(
            model.name()
                + " - sha256 pin for '"
                + pinned
                + "' names a file that "
                + model.source()
                + " does not have (files: "
                + String.join(", ", byPath.keySet())
                + ")");
      }
    }

    Optional<InstalledSnapshot> current = upToDate(model, byPath);
    if (current.isPresent()) {
      log.info(
          "{} - up to date: snapshot {} ({} files, every file pinned)",
          model.name(),
          current.get().id(),
          current.get().files().size());
      return current.get();
    }

    states.fetching(model.name(), snapshot.totalBytes());
    log.info(
        "{} - fetching {} files, {} from {}",
        model.name(),
        byPath.size(),
        human(snapshot.totalBytes()),
        model.source());
    Counter bytesCounter =
        metrics.fetchBytes(model.name(), model.source().scheme().name().toLowerCase(Locale.ROOT));
    Map<String, StagedFile> staged = new LinkedHashMap<>();
    boolean installed = false;
    try {
      for (SourceFile file : byPath.values()) {
        StagedFile copy;
        try (InputStream in = source.open(model, file, 0)) {
          copy =
              store.stage(
                  in,
                  n -> {
                    states.fetched(model.name(), n);
                    bytesCounter.increment(n);
                  });
        }
        staged.put(file.path(), copy);
        if (copy.size() != file.size()) {
          throw new SourceException(
              model.name()
                  + " - "
                  + file.path()
                  + ": expected "
                  + file.size()
                  + " bytes, got "
                  + copy.size()
                  + "; the source changed while fetching, or the transfer was cut");
        }
        checkDigest(model, file, copy);
      }
      states.verifying(model.name());
      InstalledSnapshot result = store.install(model.name(), staged);
      installed = true;
      Duration took = Duration.between(start, clock.instant());
      metrics.fetched(model.name(), took);
      long unpinned = byPath.keySet().stream().filter(p -> !model.sha256().containsKey(p)).count();
      log.info(
          "{} - installed snapshot {} ({} files, {}) in {} ms{}",
          model.name(),
          result.id(),
          result.files().size(),
          human(result.totalBytes()),
          took.toMillis(),
          unpinned == 0
              ? ""
              : "; "
                  + unpinned
                  + " file(s) not pinned by sha256 (digests recorded: see 'modelcache list')");
      return result;
    } finally {
      if (!installed) {
        staged.values().forEach(store::discard);
      }
    }
  }

  private void checkDigest(ModelConfig model, SourceFile file, StagedFile copy)
      throws ChecksumMismatchException {
    String pin = model.sha256().get(file.path());
    String expected = pin != null ? pin : file.sha256();
    if (expected != null && !expected.equals(copy.sha256())) {
      metrics.verifyFailures(model.name()).increment();
      throw new ChecksumMismatchException(
          model.name(),
          file.path(),
          expected,
          copy.sha256(),
          pin != null ? "pinned in the config" : "reported by the source");
    }
  }

  /**
   * The current snapshot when every file is pinned and the installed snapshot holds exactly those
   * bytes.
   */
  private Optional<InstalledSnapshot> upToDate(ModelConfig model, Map<String, SourceFile> byPath)
      throws IOException {
    if (!model.sha256().keySet().equals(byPath.keySet())) {
      return Optional.empty();
    }
    Optional<InstalledSnapshot> current = store.installed(model.name());
    if (current.isEmpty() || !current.get().id().equals(CacheStore.snapshotId(model.sha256()))) {
      return Optional.empty();
    }
    for (InstalledFile file : current.get().files()) {
      if (file.size() != byPath.get(file.path()).size()) {
        return Optional.empty();
      }
    }
    return current;
  }

  static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    if (bytes < 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }
    if (bytes < 1024L * 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
    }
    return String.format(Locale.ROOT, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  }
}
