package dev.modelcache.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The whole effective configuration, immutable, validated once at start by {@link ConfigLoader}.
 *
 * @param origin where it came from, for messages: a file path or "embedded default config"
 * @param baseDir the directory that relative paths ({@code cache.dir}, {@code file:} sources)
 *     resolve against
 */
public record Config(
    String origin,
    Path baseDir,
    CacheConfig cache,
    SourcesConfig sources,
    ServerConfig server,
    List<ModelConfig> models,
    VerificationConfig verification) {

  public Config {
    models = List.copyOf(models);
  }

  /** A config without {@code verification:} (no keys, no signature required). */
  public Config(
      String origin,
      Path baseDir,
      CacheConfig cache,
      SourcesConfig sources,
      ServerConfig server,
      List<ModelConfig> models) {
    this(origin, baseDir, cache, sources, server, models, VerificationConfig.NONE);
  }

  /**
   * {@code modelcache.lock}: next to the config file (the working directory for the embedded
   * default).
   */
  public Path lockfile() {
    return baseDir.resolve("modelcache.lock");
  }

  /** The effective configuration as log lines, secrets masked. */
  public List<String> describe() {
    return ConfigDescription.lines(this);
  }

  public Optional<ModelConfig> model(String name) {
    return models.stream().filter(m -> m.name().equals(name)).findFirst();
  }

  /** How models on the volume are checked before they are served. */
  public enum VerifyMode {
    FAST,
    FULL;

    @Override
    public String toString() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * The shared volume.
   *
   * @param dir the cache root: modelcache's own state ({@code .modelcache/}) and the S3 and local
   *     sources ({@code s3/}, {@code local/}) live under it
   * @param hubDir where the Hub's repositories go, in HuggingFace's layout: a folder directly in
   *     {@code dir}, {@code dir/hub} unless {@code HF_HUB_CACHE} named another (see {@link
   *     CacheReader})
   * @param maxBytes {@code cache.max_bytes}: the most bytes the models' repositories may hold
   *     before the least recently used unneeded snapshots are evicted; 0 for no limit
   */
  public record CacheConfig(
      Path dir, Path hubDir, boolean offline, VerifyMode verify, long maxBytes) {
    public CacheConfig(Path dir, boolean offline, VerifyMode verify) {
      this(dir, dir.resolve("hub"), offline, verify, 0);
    }
  }

  /** Settings shared by every model of one source kind. */
  public record SourcesConfig(
      HfConfig hf, S3Config s3, OciConfig oci, GcsConfig gcs, AzureConfig azure) {}

  /**
   * OCI registries ({@code sources.oci}).
   *
   * @param plainHttp the registries ({@code host[:port]}) reached over plain {@code http://};
   *     loopback registries always are, every other over {@code https://}
   * @param dockerConfig Docker's {@code config.json} that holds registry credentials ({@code
   *     auths}, {@code credHelpers}, {@code credsStore}), or null when there is none to read
   */
  public record OciConfig(List<String> plainHttp, @Nullable Path dockerConfig) {
    public static final OciConfig DEFAULT = new OciConfig(List.of(), null);

    public OciConfig {
      plainHttp = List.copyOf(plainHttp);
    }
  }

  /** The HuggingFace Hub: endpoint and the token sent to it. */
  public record HfConfig(String endpoint, @Nullable Secret token) {}

  /**
   * S3 and S3-compatible stores: {@code sources.s3}, or one model's {@code s3:} (which overrides it
   * key by key).
   *
   * @param endpoint the store's URL, or null for AWS's own endpoint of {@code region}
   * @param anonymous true: unsigned requests (public buckets), no credentials looked up
   * @param requirePins true: a file that nothing vouches for (no pin, checksum, sidecar or lockfile
   *     digest) is refused instead of trusted on first use
   */
  public record S3Config(
      @Nullable String endpoint,
      String region,
      boolean pathStyle,
      boolean anonymous,
      boolean requirePins) {

    /** The settings that the S3 client depends on: models that share them share one client. */
    public S3Config client() {
      return new S3Config(endpoint, region, pathStyle, anonymous, false);
    }
  }

  /**
   * Google Cloud Storage ({@code sources.gcs}): every {@code gs://} model shares these settings.
   * With an HMAC key (or {@code anonymous}) it is reached through its S3-compatible XML API; else
   * through its JSON API with application default credentials.
   *
   * @param endpoint the XML API's URL ({@value #GCS_ENDPOINT} unless a test or a proxy says else)
   * @param accessId the HMAC key's access id, or null
   * @param secret the HMAC key's secret, or null
   * @param anonymous true: unsigned requests (public buckets) through the XML API, no key looked up
   * @param requirePins the default of {@code require_pins} for {@code gs://} models
   * @param jsonEndpoint the JSON API's URL: {@code json_endpoint}, else {@code
   *     STORAGE_EMULATOR_HOST}, else {@value #GCS_ENDPOINT}
   * @param emulator true when {@code jsonEndpoint} comes from {@code STORAGE_EMULATOR_HOST}: no
   *     credentials are sent, as Google's clients do
   */
  public record GcsConfig(
      String endpoint,
      @Nullable String accessId,
      @Nullable Secret secret,
      boolean anonymous,
      boolean requirePins,
      String jsonEndpoint,
      boolean emulator) {
    public static final String GCS_ENDPOINT = "https://storage.googleapis.com";

    /** Whether {@code gs://} models are read through the XML API (an HMAC key, or anonymous). */
    public boolean xmlApi() {
      return accessId != null || anonymous;
    }

    /**
     * The S3 settings the XML API is reached with: path-style requests (bucket names with dots stay
     * valid under TLS) signed for region {@code auto}, which GCS accepts for every bucket.
     */
    public S3Config s3() {
      return new S3Config(endpoint, "auto", true, anonymous, requirePins);
    }
  }

  /**
   * Azure Blob Storage ({@code az://} sources): {@code sources.azure}, with its credentials read
   * from the environment once, at load (docs/configuration.md has the precedence).
   *
   * @param endpoint the blob endpoint, {@code {account}} standing for the account; null for {@code
   *     https://{account}.blob.core.windows.net} (or the connection string's)
   * @param credential what signs the requests; never null
   * @param requirePins true: a file that nothing vouches for (no pin, sidecar or lockfile digest)
   *     is refused instead of trusted on first use
   */
  public record AzureConfig(
      @Nullable String endpoint, AzureCredential credential, boolean requirePins) {}

  /**
   * Which credential an Azure client uses: a connection string, a SAS token, an account key (for
   * {@code keyAccount}, or any account when null), none ({@code ANONYMOUS}) or Microsoft Entra ID
   * (managed identity, workload identity, a service principal from the environment, the Azure CLI).
   *
   * @param origin where it comes from, for the effective config and messages (never the value)
   */
  public record AzureCredential(
      AzureAuth kind, @Nullable Secret secret, @Nullable String keyAccount, String origin) {}

  /** The kinds of Azure credential, strongest precedence first. */
  public enum AzureAuth {
    CONNECTION_STRING,
    SAS_TOKEN,
    ACCOUNT_KEY,
    ANONYMOUS,
    ENTRA_ID
  }

  /**
   * The HTTP server.
   *
   * @param token the bearer token inference (and, with {@code authMetrics}, {@code /metrics})
   *     requires, or null when {@code tokenEnv} is not set: those routes are then open
   * @param authMetrics whether {@code /metrics} requires the token too
   * @param shutdownGraceSeconds how long a stop waits for requests in flight before cutting them
   * @param limits what requests in flight may take
   * @param grpc the Open Inference Protocol's gRPC endpoint beside HTTP
   * @param maxModelMemory the most memory one loaded model may take ({@code
   *     server.max_model_memory}, bytes), or 0 for no limit
   * @param engineThreads the intra-op threads of one forward pass ({@code engine_threads}), 0 for
   *     {@code auto}: the cores shared out among every model's workers
   */
  public record ServerConfig(
      String host,
      int port,
      String tokenEnv,
      @Nullable Secret token,
      long maxBodyBytes,
      boolean authMetrics,
      int shutdownGraceSeconds,
      Limits limits,
      Reload reload,
      GrpcConfig grpc,
      long maxModelMemory,
      int engineThreads) {}

  /**
   * {@code server.reload}: how a changed config file is taken up (SIGHUP always reloads).
   *
   * @param watch whether a change of the config file (or of {@code modelcache.lock}) reloads it
   * @param debounceMs how long the file must stay unchanged before it is read
   */
  public record Reload(boolean watch, int debounceMs) {
    public static final Reload DEFAULT = new Reload(false, 1000);
  }

  /**
   * {@code server.grpc}: the Open Inference Protocol v2 over gRPC ({@code
   * inference.GRPCInferenceService}) on a port of its own, on {@code server.host}, with the same
   * token, body limit and memory budget as HTTP.
   *
   * @param enabled whether it listens at all
   * @param port its port; 0 picks a free one
   */
  public record GrpcConfig(boolean enabled, int port) {
    public static final GrpcConfig DEFAULT = new GrpcConfig(false, 8081);
  }

  /**
   * {@code server.limits}: admission control, so that no combination of valid requests can run the
   * heap out.
   *
   * @param memoryPercent the share of the maximum heap ({@code -Xmx}) that inference requests in
   *     flight may hold together, by estimate
   * @param bodyExpansion the estimated heap bytes one request holds per byte of its body (parsed
   *     JSON tree, inputs, outputs, the answer)
   * @param maxItems the most items (texts, images, OIP batch entries) one request may hold
   */
  public record Limits(int memoryPercent, int bodyExpansion, int maxItems) {
    public static final Limits DEFAULT = new Limits(50, 32, 2048);

    /** The in-flight budget in bytes for a heap of {@code maxHeapBytes}. */
    public long memoryBudget(long maxHeapBytes) {
      return maxHeapBytes / 100 * memoryPercent;
    }
  }

  /**
   * {@code verification:}: the keys whose signature of {@code modelcache.lock} (in {@code
   * modelcache.lock.sig}) is trusted.
   *
   * @param requireSignature true: a model not named by a lockfile with a valid signature from one
   *     of {@code publicKeys} is neither fetched nor served
   */
  public record VerificationConfig(List<PublicKeyConfig> publicKeys, boolean requireSignature) {
    public static final VerificationConfig NONE = new VerificationConfig(List.of(), false);

    public VerificationConfig {
      publicKeys = List.copyOf(publicKeys);
    }
  }

  /**
   * One trusted public key.
   *
   * @param origin where it was given, for messages: its file, or {@code
   *     verification.public_keys[i]}
   * @param pem its PEM text ({@code -----BEGIN PUBLIC KEY-----}, SubjectPublicKeyInfo)
   */
  public record PublicKeyConfig(String origin, String pem) {
    @Override
    public String toString() {
      return origin;
    }
  }
}
