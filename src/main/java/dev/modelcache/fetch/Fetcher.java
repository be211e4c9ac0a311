package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.RetryableSourceException;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceException;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.CacheLimit;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.FileStamp;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.Lockfile;
import dev.modelcache.store.StagedFile;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings one model from its source onto the volume: lists it, downloads the files the cache lacks
 * (several at once), hashing each while it streams, resumes a cut transfer from the bytes already
 * on disk, retries what may pass with bounded backoff, checks every digest (config pins first, then
 * the source's own: the Hub's SHA-256 for LFS files, its git blob SHA-1 for the others), and
 * installs the snapshot only when every file matched.
 *
 * <pre>{@code
 * try (Fetcher fetcher = new Fetcher(store, sources, states, metrics, clock, false)) {
 *   InstalledSnapshot snapshot = fetcher.fetch(model);
 * }
 * }</pre>
 */
public final class Fetcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);
  static final int PARALLEL_FILES = 4;

  /** Files at least this large are fetched as several byte ranges at once. */
  static final long RANGED_MIN_BYTES = 64L << 20;

  private final CacheStore store;
  private final Map<SourceRef.Scheme, ModelSource> sources;
  private final ModelStates states;
  private final Metrics metrics;
  private final Clock clock;
  private final boolean offline;
  private final Retrier retrier;
  private final Downloader downloader;
  private final ParallelDownloads parallel;
  private final DigestPolicy digests;
  private final CacheFallback fallback;
  private final LocalStamps localStamps;
  private final SnapshotInstall installing;
  private CacheLimit limit; // set once by the constructors

  public Fetcher(
      CacheStore store,
      Map<SourceRef.Scheme, ModelSource> sources,
      ModelStates states,
      Metrics metrics,
      Clock clock,
      boolean offline) {
    this(store, sources, states, metrics, clock, offline, CacheLimit.none(store, clock));
  }

  /**
   * A fetcher that keeps the cache within {@code limit} ({@code cache.max_bytes}): before a
   * download it evicts what the limit requires, or fails; and it records each fetched snapshot's
   * use.
   */
  public Fetcher(
      CacheStore store,
      Map<SourceRef.Scheme, ModelSource> sources,
      ModelStates states,
      Metrics metrics,
      Clock clock,
      boolean offline,
      CacheLimit limit) {
    this(
        store,
        sources,
        states,
        metrics,
        clock,
        offline,
        Backoff.standard(),
        d -> Thread.sleep(d.toMillis()),
        RANGED_MIN_BYTES);
    this.limit = limit;
  }

  Fetcher(
      CacheStore store,
      Map<SourceRef.Scheme, ModelSource> sources,
      ModelStates states,
      Metrics metrics,
      Clock clock,
      boolean offline,
      Backoff backoff,
      Backoff.Sleeper sleeper,
      long rangedMinBytes) {
    this.store = store;
    this.sources = Map.copyOf(sources);
    this.states = states;
    this.metrics = metrics;
    this.clock = clock;
    this.offline = offline;
    this.retrier = new Retrier(backoff, sleeper, metrics);
    this.digests = new DigestPolicy(metrics);
    this.fallback = new CacheFallback(store, states, digests);
    this.localStamps = new LocalStamps(store);
    this.downloader = new Downloader(store, states, metrics, retrier, digests, rangedMinBytes);
    this.parallel = new ParallelDownloads(downloader, PARALLEL_FILES);
    this.installing = new SnapshotInstall(store, states, metrics, clock, downloader, localStamps);
    this.limit = CacheLimit.none(store, clock);
  }

  /** The size limit this fetcher keeps the cache within (a fetcher of updates shares it). */
  public CacheLimit limit() {
    return limit;
  }

  /** Fetches and verifies {@code model}; downloads nothing the cache already holds. */
  public InstalledSnapshot fetch(ModelConfig model) throws IOException {
    return fetch(model, Optional.empty(), false);
  }

  /**
   * Fetches {@code model} held to its entry of {@code modelcache.lock}: the locked digests act as
   * pins (a moved branch fails before anything is downloaded) and the result must match them. With
   * {@code frozen} the locked revision is fetched, and any difference between upstream and the
   * lockfile fails, naming it.
   */
  public InstalledSnapshot fetch(
      ModelConfig model, Optional<Lockfile.Locked> locked, boolean frozen) throws IOException {
    Optional<Lockfile.Locked> lock = LockCheck.entry(model, locked, frozen);
    // An S3 lock entry pins each object only while its ETag and version are the locked ones, a url
    // one each file only while its URL is the locked one: that is known after the listing (see
    // LockCheck.objectPins).
    boolean perObject = LockCheck.perObject(model);
    LockCheck.Pinned pinned =
        lock.isPresent() && !perObject
            ? LockCheck.lockPins(model, lock.get(), frozen)
            : new LockCheck.Pinned(model, Set.of());
    ModelConfig effective = pinned.model();
    digests.pinnedFromLock(model.name(), pinned.fromLock());
    try {
      InstalledSnapshot result =
          fetchResolved(
              effective,
              CacheStore.refName(model),
              frozen ? lock.orElseThrow() : null,
              perObject ? lock.orElse(null) : null,
              lock.orElse(null));
      if (lock.isPresent() && (!perObject || frozen)) {
        LockCheck.requireMatch(model, result, lock.get());
      }
      limit.used(result);
      return result;
    } finally {
      digests.forget(model.name());
    }
  }

  /**
   * The {@code modelcache.lock} entry of what {@link #fetch} just installed for {@code model}: with
   * the ETag and version id of every S3 object, the URL of every url file.
   */
  public Lockfile.Locked lockEntry(ModelConfig model, InstalledSnapshot snapshot) {
    Map<String, Lockfile.ObjectId> objects = new TreeMap<>();
    Snapshot listed = listings.get(model.name());
    if (listed != null) {
      for (SourceFile file : listed.files()) {
        String url = model.source().url(file.path()).map(SourceRef.UrlFile::shown).orElse(null);
        if (file.objectEtag() != null || file.versionId() != null || url != null) {
          objects.put(file.path(), new Lockfile.ObjectId(file.objectEtag(), file.versionId(), url));
        }
      }
    }
    return Lockfile.Locked.of(model.source().text(), snapshot, objects);
  }

  private final Map<String, Snapshot> listings = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param locked the model's entry of {@code modelcache.lock} when it applies, else null: with the
   *     source unreachable, it decides which cached revision may be served
   */
  private InstalledSnapshot fetchResolved(
      ModelConfig given,
      @Nullable String ref,
      Lockfile.@Nullable Locked frozen,
      Lockfile.@Nullable Locked objectLock,
      Lockfile.@Nullable Locked locked)
      throws IOException {
    SourceRef.Scheme scheme = given.source().scheme();
    if (offline && scheme != SourceRef.Scheme.FILE) {
      return fallback.offline(given);
    }
    ModelSource source = sourceFor(given);
    String sourceLabel = sourceLabel(given);
    Instant start = clock.instant();
    CacheFallback.Cached[] cached = {null}; // looked at only when the source fails
    Snapshot snapshot;
    try {
      snapshot = resolve(source, given, sourceLabel, ref, locked, cached);
    } catch (SourceException e) {
      if (!(e instanceof RetryableSourceException)
          && !(e.getCause() instanceof RetryableSourceException)) {
        throw e; // not an outage: a 404, 401 or 403 from a source that answered still fails
      }
      return serveCached(
          given,
          cached[0] != null ? cached[0] : fallback.cached(given, ref, locked),
          sourceLabel,
          e);
    }
    states.sourceReachable(given.name());
    Map<String, SourceFile> byPath = FetchPlan.byPath(snapshot);
    ModelConfig model = FetchPlan.checkListing(given, byPath, frozen, objectLock, digests);
    listings.put(model.name(), snapshot);
    Map<String, FileStamp> localStamps =
        scheme == SourceRef.Scheme.FILE ? this.localStamps.stamp(model, byPath) : Map.of();

    FetchPlan plan = FetchPlan.of(model, snapshot, byPath, downloader);
    // within cache.max_bytes first (evicting frees volume space too), then the volume: both fail
    // early, naming the numbers, before any download
    CacheLimit.Room room = limit.makeRoom(model.name(), plan.toFetch());
    try {
      store.checkSpace(plan.toFetch());
      return download(given, plan, source, sourceLabel, ref, locked, localStamps, start);
    } finally {
      room.close();
    }
  }

  /** Downloads what {@code plan} lacks and installs the snapshot. */
  private InstalledSnapshot download(
      ModelConfig given,
      FetchPlan plan,
      ModelSource source,
      String sourceLabel,
      @Nullable String ref,
      Lockfile.@Nullable Locked locked,
      Map<String, FileStamp> localStamps,
      Instant start)
      throws IOException {
    ModelConfig model = plan.model();
    Snapshot snapshot = plan.snapshot();
    if (!plan.missing().isEmpty()) {
      announce(plan);
    }
    Map<String, StagedFile> staged;
    try {
      staged = parallel.downloadAll(model, source, sourceLabel, snapshot, plan.missing());
    } catch (SourceException e) {
      if (!CacheFallback.outage(e)) {
        throw e;
      }
      // listed, but its bytes cannot be had (the CDN is down): the revision in the cache stands
      CacheFallback.Cached cachedNow = fallback.cached(given, ref, locked);
      if (!cachedNow.servable()) {
        throw e;
      }
      return serveCached(given, cachedNow, sourceLabel, e);
    }
    return installing.install(plan, staged, ref, localStamps, start);
  }

  /** The source's label on the meters, whose counters are registered at 0 here. */
  private String sourceLabel(ModelConfig model) {
    String label = model.source().scheme().name().toLowerCase(Locale.ROOT);
    // Registered at 0 now, so that increase() over the counters sees their first step.
    metrics.fetchBytes(model.name(), label);
    metrics.fetchRetries(model.name(), label);
    return label;
  }

  private ModelSource sourceFor(ModelConfig model) throws SourceException {
    ModelSource source = sources.get(model.source().scheme());
    if (source == null) {
      throw new SourceException(
          model.name() + " - no source for " + model.source() + " in this version");
    }
    return source;
  }

  /**
   * The source's listing of {@code given}, retried. With no connection at all and a revision in the
   * cache to serve, it gives up at once, leaving that revision in {@code cached[0]}.
   */
  private Snapshot resolve(
      ModelSource source,
      ModelConfig given,
      String sourceLabel,
      @Nullable String ref,
      Lockfile.@Nullable Locked locked,
      CacheFallback.Cached[] cached)
      throws IOException {
    return retrier.call(
        given,
        sourceLabel,
        "listing " + given.source(),
        () -> source.resolve(given),
        e -> {
          // no connection at all, and a revision to serve: fall back at once, as
          // huggingface_hub does on a connection error, instead of delaying readiness
          if (!e.noConnection()) {
            return false;
          }
          cached[0] = fallback.cached(given, ref, locked);
          return cached[0].servable();
        });
  }

  /** FETCHING, with the bytes to come, and one line saying what. */
  private void announce(FetchPlan plan) {
    ModelConfig model = plan.model();
    long toFetch = plan.toFetch();
    states.fetching(model.name(), toFetch);
    log.info(
        "{} - fetching {} of {} files, {} from {}{}",
        model.name(),
        plan.missing().size(),
        plan.byPath().size(),
        ByteSize.human(toFetch),
        model.source(),
        plan.snapshot().revision() == null ? "" : " at " + plan.snapshot().revision());
  }

  /** The cached revision served instead of an unreachable source: nothing was listed. */
  private InstalledSnapshot serveCached(
      ModelConfig model, CacheFallback.Cached cached, String sourceLabel, SourceException outage)
      throws SourceException {
    InstalledSnapshot snapshot = fallback.serve(model, cached, sourceLabel, outage);
    listings.remove(model.name()); // the lockfile learns nothing from this
    return snapshot;
  }

  /**
   * Asks the source of a model served from the cache (see {@link ModelStates#stale}) whether it
   * answers again; see {@link CacheFallback#recheck}.
   *
   * @return true when the source answered
   */
  public boolean recheck(ModelConfig model) {
    ModelSource source = sources.get(model.source().scheme());
    return source != null && !offline && fallback.recheck(model, source);
  }

  /** Whether the last fetch of {@code model} served its cached revision, the source unreachable. */
  public boolean servedFromCache(ModelConfig model) {
    return states.stale(model.name()).isPresent();
  }

  @Override
  public void close() {
    downloader.close();
    parallel.close();
  }
}
