package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.ModelVersions;
import dev.modelcache.fetch.Fetcher;
import dev.modelcache.fetch.LockCheck;
import dev.modelcache.http.HttpServer;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import dev.modelcache.store.SignedLock;
import dev.modelcache.store.StoreException;
import dev.modelcache.store.Verifier;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Applies the model changes of a reloaded config, on the reloader's thread: a model added is
 * fetched and loaded; one removed gets 404 at once, its requests in flight finish, then it is
 * unloaded; one changed (its entry, or its entry of {@code modelcache.lock}) is fetched beside the
 * version it serves and swapped in ({@link ModelRegistry#swap}). A failed update leaves the old
 * version serving, shows in {@code /health} and {@code /models} ({@code update_error}) and in
 * {@code modelcache_model_update_failed}, and is tried again after a growing pause.
 */
final class ModelUpdates implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Reloader.class);
  static final Duration FIRST_RETRY = Duration.ofSeconds(10);
  static final Duration MAX_RETRY = Duration.ofMinutes(10);

  /** The daemon's parts that a reload changes. */
  record Parts(
      ModelStates states,
      ModelRegistry registry,
      HttpServer http,
      Metrics metrics,
      CacheStore store,
      Verifier verifier,
      Fetcher fetcher,
      Sources sources,
      Clock clock) {}

  private final Parts parts;
  private final ScheduledExecutorService executor;

  /** The states the fetches of updates write: the served model stays READY meanwhile. */
  private final ModelStates shadow;

  private final Fetcher shadowFetcher;

  /** Per model, the latest change: a retry of an older one stops. */
  private final Map<String, Integer> generations = new ConcurrentHashMap<>();

  ModelUpdates(Parts parts, ScheduledExecutorService executor, boolean offline) {
    this.parts = parts;
    this.executor = executor;
    this.shadow = new ModelStates(List.of(), Set.of(), parts.clock());
    this.shadowFetcher =
        new Fetcher(
            parts.store(),
            parts.sources().byScheme(),
            shadow,
            parts.metrics(),
            parts.clock(),
            offline,
            parts.fetcher().limit()); // one limit: its reservations cover both fetchers
  }

  /** Applies {@code diff}, which brought {@code config} and {@code lock} into force. */
  void apply(Config config, SignedLock lock, ConfigDiff diff) {
    Duration drain = Duration.ofSeconds(config.server().shutdownGraceSeconds());
    for (ModelConfig model : diff.added()) {
      parts.states().add(model.name(), model.required());
      parts.metrics().bindModels(parts.states(), List.of(model.name()));
      parts.registry().add(model);
    }
    parts.http().models(config.models()); // added ones known, removed ones 404 from now on
    for (String name : diff.removed()) {
      generations.remove(name);
      parts.registry().remove(name, drain);
      parts.states().remove(name);
      parts.metrics().unbindModel(name);
      log.info("{} - removed from the config: drained and unloaded", name);
    }
    for (ModelConfig model : diff.added()) {
      load(config, lock, model);
    }
    for (ModelConfig model : diff.changed()) {
      parts.states().add(model.name(), model.required()); // known: only `required` may change
      int generation = generations.merge(model.name(), 1, Integer::sum);
      update(config, lock, model, generation, 0);
    }
  }

  /**
   * Brings in what {@code model}'s branch or tag names now ({@link UpstreamWatch} saw it move), as
   * for a changed model: beside the version served, then swapped in; retried on failure.
   */
  void moved(Config config, SignedLock lock, ModelConfig model) {
    int generation = generations.merge(model.name(), 1, Integer::sum);
    update(config, lock, model, generation, 0);
  }

  /** Fetches and loads a model the reload added (or one that served nothing yet). */
  private void load(Config config, SignedLock lock, ModelConfig model) {
    MDC.put("model", model.name());
    try {
      InstalledSnapshot snapshot = snapshot(config, lock, model, parts.fetcher());
      parts.registry().load(model, snapshot);
      if (model.versions().canary() != null) {
        int generation = generations.merge(model.name(), 1, Integer::sum);
        update(config, lock, model, generation, 0); // the canary, beside the model now served
      }
    } catch (Exception e) {
      parts.states().failed(model.name(), e.getMessage());
      log.error("{} - FAILED: {}", model.name(), e.getMessage());
    } finally {
      MDC.remove("model");
    }
  }

  /**
   * Brings in the canaries of the models that have one ({@code canary:}) once the start-up has
   * loaded the models themselves: the same path as a change by a reload (fetched, verified, loaded
   * and warmed beside the model; retried after a growing pause on failure).
   */
  void startCanaries(Config config, SignedLock lock) {
    List<ModelConfig> canaries =
        config.models().stream()
            .filter(m -> m.versions().canary() != null)
            .filter(m -> parts.registry().revision(m.name()).isPresent())
            .toList();
    if (!canaries.isEmpty()) {
      apply(config, lock, new ConfigDiff(List.of(), List.of(), List.of(), canaries));
    }
  }

  /**
   * The snapshot of {@code model}'s canary, fetched (never taken from {@code modelcache.lock},
   * which records the model's own revision, nor recorded there), or null when it has none.
   */
  private @Nullable InstalledSnapshot canary(Config config, ModelConfig model, Fetcher fetcher)
      throws IOException {
    if (model.versions().canary() == null) {
      return null;
    }
    ModelConfig canary = ModelVersions.canaryOf(model);
    String cannotFetch = Preflight.cannotFetch(config, canary, parts.store().writable());
    if (cannotFetch != null) {
      throw new StoreException(
          model.name() + " - canary " + canary.source() + " cannot be fetched: " + cannotFetch,
          null);
    }
    return fetcher.fetch(canary, Optional.empty(), false);
  }

  /**
   * Brings in the changed {@code model} beside the version it serves; on failure the old one keeps
   * serving and the next attempt comes after {@link #backoff}.
   */
  private void update(
      Config config, SignedLock lock, ModelConfig model, int generation, int tries) {
    String name = model.name();
    if (generations.getOrDefault(name, -1) != generation) {
      return; // a later reload changed or removed it
    }
    Optional<String> serving = parts.registry().revision(name);
    if (serving.isEmpty()) {
      parts.registry().add(model); // nothing served yet: load it as at start
      parts.states().update(name, null);
      load(config, lock, model);
      return;
    }
    MDC.put("model", name);
    String pending = model.source().toString();
    try {
      parts.states().update(name, new ModelStates.Update(pending, null, null));
      shadow.add(name, false);
      InstalledSnapshot snapshot = snapshot(config, lock, model, shadowFetcher);
      pending = snapshot.id();
      parts.states().update(name, new ModelStates.Update(pending, null, null));
      InstalledSnapshot canary = canary(config, model, shadowFetcher);
      Duration drain = Duration.ofSeconds(config.server().shutdownGraceSeconds());
      parts.registry().swap(model, snapshot, canary, drain);
      parts.states().update(name, null);
    } catch (Exception e) {
      Duration wait = backoff(tries);
      String error = e.getMessage() == null ? e.toString() : e.getMessage();
      parts
          .states()
          .update(name, new ModelStates.Update(pending, error, parts.clock().instant().plus(wait)));
      log.error(
          "{} - update to {} failed; revision {} keeps serving; next attempt in {} s: {}",
          name,
          pending,
          serving.get(),
          wait.toSeconds(),
          error);
      // update catches what the attempt throws: the future has nothing to report
      var unused =
          executor.schedule(
              () -> update(config, lock, model, generation, tries + 1),
              wait.toMillis(),
              TimeUnit.MILLISECONDS);
    } finally {
      shadow.remove(name);
      MDC.remove("model");
    }
  }

  /** 10 s, 20 s, 40 s ... at most 10 minutes. */
  static Duration backoff(int tries) {
    long seconds = FIRST_RETRY.toSeconds() << Math.min(tries, 10);
    return Duration.ofSeconds(Math.min(seconds, MAX_RETRY.toSeconds()));
  }

  /** The snapshot to serve: fetched when it can be, else the installed one, which must verify. */
  private InstalledSnapshot snapshot(
      Config config, SignedLock signed, ModelConfig model, Fetcher fetcher) throws IOException {
    signed.requireSigned(model);
    InstalledSnapshot snapshot = unsignedSnapshot(config, signed.lockfile(), model, fetcher);
    signed.requireNamed(model, snapshot);
    return snapshot;
  }

  private InstalledSnapshot unsignedSnapshot(
      Config config, Lockfile lock, ModelConfig model, Fetcher fetcher) throws IOException {
    String cannotFetch = Preflight.cannotFetch(config, model, parts.store().writable());
    if (cannotFetch == null) {
      InstalledSnapshot fetched = fetcher.fetch(model, lock.model(model.name()), false);
      LockRecorder.record(config, fetcher, model, fetched);
      return fetched;
    }
    Verifier.Report report =
        parts.verifier().verify(List.of(model), config.cache().verify()).get(0);
    return installed(model, report, lock, cannotFetch);
  }

  /**
   * The installed snapshot of a model that cannot be fetched now ({@code cannotFetch} says why): it
   * must have verified ({@code report}) and match {@code modelcache.lock}.
   */
  static InstalledSnapshot installed(
      ModelConfig model, Verifier.@Nullable Report report, Lockfile lock, String cannotFetch)
      throws StoreException {
    if (report == null) {
      throw new StoreException(model.name() + " - could not be verified; " + cannotFetch, null);
    }
    if (!report.ok() || report.snapshot() == null) {
      throw new StoreException(
          report.problems().stream()
                  .map(Verifier.Problem::message)
                  .collect(Collectors.joining("; "))
              + "; "
              + cannotFetch,
          null);
    }
    Optional<String> mismatch =
        LockCheck.cacheMismatch(model, report.snapshot(), lock.model(model.name()));
    if (mismatch.isPresent()) {
      throw new StoreException(mismatch.get() + "; " + cannotFetch, null);
    }
    return report.snapshot();
  }

  @Override
  public void close() {
    shadowFetcher.close();
  }
}
