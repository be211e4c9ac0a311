package dev.modelcache.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.modelcache.config.Config.CacheConfig;
import dev.modelcache.config.Config.HfConfig;
import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.config.Config.SourcesConfig;
import dev.modelcache.config.Config.VerifyMode;
import dev.modelcache.config.ModelConfig.Task;
import dev.modelcache.config.TaskOptions.Pooling;
import dev.modelcache.config.TaskOptions.Scores;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the YAML configuration once, applies {@code MODELCACHE_*} environment overrides, checks
 * every value, and returns an immutable {@link Config}.
 *
 * <pre>{@code
 * Config config = new ConfigLoader(System.getenv(), Path.of("")).load(Path.of("config/modelcache.yaml"));
 * }</pre>
 *
 * With no file (and no {@code MODELCACHE_CONFIG}) the embedded default is used: the demo models of
 * the repository, relative to the working directory, cached in {@code ./data}.
 */
public final class ConfigLoader {
  private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);
  public static final String EMBEDDED = "embedded default config";
  static final String EMBEDDED_RESOURCE = "/dev/modelcache/config/default.yaml";

  /** {@code cache.dir} when neither it, MODELCACHE_CACHE_DIR, HF_HUB_CACHE nor HF_HOME is set. */
  static final String DEFAULT_CACHE_DIR = "/models";

  /** Folders of the cache root that the Hub cache cannot be. */
  private static final Set<String> RESERVED_CACHE_NAMES = Set.of(".modelcache", "local", "s3");

  private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern HF_REPO =
      Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");
  private static final Pattern S3_BUCKET = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{1,62}");
  private static final Pattern DEVICE = Pattern.compile("auto|cpu|gpu|gpu:[0-9]{1,2}");
  private static final List<String> ENGINES = List.of("auto", "PyTorch", "OnnxRuntime");

  /** The {@code task_options} each task takes. */
  private static final Map<Task, List<String>> TASK_OPTIONS =
      Map.of(
          Task.TENSOR,
          List.of(),
          Task.TEXT_EMBEDDING,
          List.of("max_length", "pooling", "normalize"),
          Task.TEXT_CLASSIFICATION,
          List.of("max_length", "top_k", "scores"),
          Task.IMAGE_CLASSIFICATION,
          List.of("image_size", "resize", "mean", "std", "top_k", "scores"));

  /** Short names kept for convenience; each stands for the full override variable. */
  private static final Map<String, String> ALIASES =
      Map.of(
          "MODELCACHE_PORT",
          "MODELCACHE_SERVER_PORT",
          "MODELCACHE_OFFLINE",
          "MODELCACHE_CACHE_OFFLINE");

  /** Our variables that are not config overrides. */
  private static final Set<String> NOT_OVERRIDES =
      Set.of("MODELCACHE_CONFIG", "MODELCACHE_TOKEN", "MODELCACHE_OPTS");

  /**
   * The variables Kubernetes (and Docker's legacy links) inject for a Service named modelcache or
   * modelcache-*: {@code MODELCACHE_SERVICE_HOST}, {@code MODELCACHE_SERVICE_PORT[_NAME]}, {@code
   * MODELCACHE_PORT_8080_TCP[_PROTO|_PORT|_ADDR]}, and {@code MODELCACHE_PORT=tcp://10.0.0.1:8080}.
   * They are not settings: read as overrides they would stop every pod of the namespace.
   */
  private static final Pattern SERVICE_LINK_NAME =
      Pattern.compile(
          "MODELCACHE_(?:\\w+_)?(?:SERVICE_(?:HOST|PORT)(?:_\\w+)?|PORT_\\d+_(?:TCP|UDP|SCTP)(?:_\\w+)?)");

  private static final Pattern SERVICE_LINK_VALUE =
      Pattern.compile("(?:tcp|udp|sctp)://[^/\\s]+:\\d+");

  private final Map<String, String> env;
  private final Path workDir;
  private volatile Set<String> keysRead = Set.of();

  /**
   * @param env the process environment (tests pass their own)
   * @param workDir what relative paths of the embedded default resolve against
   */
  public ConfigLoader(Map<String, String> env, Path workDir) {
    this.env = withoutServiceLinks(env);
    this.workDir = workDir.toAbsolutePath().normalize();
  }

  /**
   * Loads {@code file}, or {@code MODELCACHE_CONFIG} when it is null, or the embedded default when
   * both are.
   */
  public Config load(Path file) {
    if (file == null
        && env.get("MODELCACHE_CONFIG") != null
        && !env.get("MODELCACHE_CONFIG").isBlank()) {
      file = Path.of(env.get("MODELCACHE_CONFIG"));
    }
    if (file == null) {
      try (InputStream in = ConfigLoader.class.getResourceAsStream(EMBEDDED_RESOURCE)) {
        if (in == null) {
          throw new ConfigException(EMBEDDED + " is missing from the jar: rebuild modelcache");
        }
        return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), EMBEDDED, workDir);
      } catch (IOException e) {
        throw new ConfigException("cannot read the " + EMBEDDED + ": " + e.getMessage(), e);
      }
    }
    Path absolute = file.toAbsolutePath().normalize();
    String text;
    try {
      text = Files.readString(absolute, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException(
          file + ": config file not found (give --config a path to a YAML file)");
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read config file: " + e.getMessage(), e);
    }
    return parse(text, file.toString(), absolute.getParent());
  }

  /**
   * Parses YAML text; {@code origin} names it in messages, {@code baseDir} anchors relative paths.
   */
  public Config parse(String yaml, String origin, Path baseDir) {
    JsonNode root;
    try {
      root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
    } catch (JsonProcessingException e) {
      throw new ConfigException(
          origin
              + ": not valid YAML: "
              + e.getOriginalMessage()
              + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"),
          e);
    }
    Map<String, String> effectiveEnv = resolveAliases();
    Set<String> envNames = new HashSet<>();
    ConfigNode top = new ConfigNode(root, origin, effectiveEnv, envNames);

    ConfigNode cacheNode = top.child("cache");
    boolean hfOffline = truthy(env.get("HF_HUB_OFFLINE"));
    String dirSetting = cacheNode.string("dir", null);
    Path cacheDir;
    Path hubDir;
    if (dirSetting != null) {
      cacheDir = baseDir.resolve(dirSetting).normalize();
      hubDir = cacheDir.resolve("hub");
      warnIfTheHubCacheDiffers(hubDir);
    } else {
      hubDir = hfHubCache();
      cacheDir = hubDir == null ? Path.of(DEFAULT_CACHE_DIR) : hubDir.getParent();
      hubDir = hubDir == null ? cacheDir.resolve("hub") : hubDir;
    }
    CacheConfig cache =
        new CacheConfig(
            cacheDir,
            hubDir,
            cacheNode.bool("offline", false) || hfOffline,
            cacheNode.choice("verify", VerifyMode.FAST, VerifyMode.class));
    cacheNode.finish();

    ConfigNode sourcesNode = top.child("sources");
    ConfigNode hfNode = sourcesNode.child("hf");
    String hfEndpoint = hfNode.string("endpoint", null);
    if (hfEndpoint == null) {
      hfEndpoint = env.getOrDefault("HF_ENDPOINT", "https://huggingface.co");
    }
    Secret hfToken = Secret.ofNullable(hfNode.string("token", null));
    if (hfToken == null) {
      hfToken = Secret.ofNullable(env.getOrDefault("HF_TOKEN", env.get("HUGGING_FACE_HUB_TOKEN")));
    }
    if (hfToken == null) {
      hfToken = tokenFile();
    }
    HfConfig hf = new HfConfig(stripTrailingSlash(hfEndpoint), hfToken);
    hfNode.finish();
    ConfigNode s3Node = sourcesNode.child("s3");
    S3Config s3 =
        new S3Config(
            s3Node.string("endpoint", env.get("AWS_ENDPOINT_URL")),
            s3Node.string("region", env.getOrDefault("AWS_REGION", "us-east-1")),
            s3Node.bool("path_style", false),
            s3Node.bool("anonymous", false),
            s3Node.bool("require_pins", false));
    checkEndpoint(s3Node, s3.endpoint());
    s3Node.finish();
    sourcesNode.finish();

    ConfigNode serverNode = top.child("server");
    String host = serverNode.string("host", "0.0.0.0");
    int port = serverNode.integer("port", 8080, 0, 65535);
    int maxBody = serverNode.integer("max_body_bytes", 16 * 1024 * 1024, 1024, Integer.MAX_VALUE);
    int shutdownGrace = serverNode.integer("shutdown_grace_seconds", 30, 0, 3600);
    ConfigNode authNode = serverNode.child("auth");
    String tokenEnv = authNode.string("token_env", "MODELCACHE_TOKEN");
    boolean authMetrics = authNode.bool("metrics", false);
    authNode.finish();
    ConfigNode limitsNode = serverNode.child("limits");
    Config.Limits limits =
        new Config.Limits(
            limitsNode.integer("memory_percent", Config.Limits.DEFAULT.memoryPercent(), 5, 90),
            limitsNode.integer("body_expansion", Config.Limits.DEFAULT.bodyExpansion(), 1, 1000),
            limitsNode.integer("max_items", Config.Limits.DEFAULT.maxItems(), 1, 1_000_000));
    limitsNode.finish();
    serverNode.finish();
    ServerConfig server =
        new ServerConfig(
            host,
            port,
            tokenEnv,
            Secret.ofNullable(env.get(tokenEnv)),
            maxBody,
            authMetrics,
            shutdownGrace,
            limits);

    List<ModelConfig> models = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (ConfigNode node : top.list("models")) {
      ModelConfig model = model(node, baseDir, s3);
      if (!names.add(model.name())) {
        throw new ConfigException(
            origin + ": model name '" + model.name() + "' is used twice; names must be unique",
            node.qualify("name"));
      }
      models.add(model);
    }
    top.finish();
    keysRead = Set.copyOf(top.keys());
    rejectUnknownOverrides(effectiveEnv, envNames, tokenEnv);
    return new Config(origin, baseDir, cache, new SourcesConfig(hf, s3), server, models);
  }

  /**
   * The keys with a value that the last successful {@link #parse} read, list items as {@code
   * models[].name}: the key catalogue that {@code docs/configuration.md} documents.
   */
  public Set<String> keysRead() {
    return keysRead;
  }

  /**
   * A model that is not in {@code config}, named {@code name}, from the source string {@code
   * source} (as a {@code source:} key would give it), with every other key at its default; for
   * commands that take a source on the command line ({@code modelcache mirror}).
   */
  public ModelConfig model(Config config, String name, String source) {
    com.fasterxml.jackson.databind.node.ObjectNode node =
        new ObjectMapper().createObjectNode().put("name", name).put("source", source);
    return model(
        new ConfigNode(node, "the command line", Map.of(), new HashSet<>()),
        config.baseDir(),
        config.sources().s3());
  }

  private ModelConfig model(ConfigNode node, Path baseDir, S3Config s3Defaults) {
    // Read every key first, so that a misspelt key is reported as such rather than as a missing
    // one.
    String name = node.string("name", null);
    String sourceText = node.string("source", null);
    String repoType = node.string("repo_type", null);
    List<String> include = node.strings("include");
    List<String> exclude = node.strings("exclude");
    Map<String, String> rawPins = node.stringMap("sha256");
    String engine = node.string("engine", "auto");
    String modelFile = node.string("model_file", null);
    Task task = node.choice("task", Task.TENSOR, Task.class);
    TaskOptions taskOptions = taskOptions(node.child("task_options"), task);
    String device = node.string("device", "auto").strip().toLowerCase(Locale.ROOT);
    int workers = node.integer("workers", 1, 1, 64);
    ConfigNode batch = node.child("batch");
    int batchSize = batch.integer("max_size", 1, 1, 1024);
    int batchDelay = batch.integer("max_delay_ms", 0, 0, 10_000);
    batch.finish();
    int queue = node.integer("queue", 64, 1, 100_000);
    int timeoutMs = node.integer("timeout_ms", 30_000, 1, 3_600_000);
    String load = node.string("load", "preload").strip().toLowerCase(Locale.ROOT);
    boolean required = node.bool("required", true);
    String requirePinsText = node.string("require_pins", null);
    boolean requirePins = node.bool("require_pins", false);
    Map<String, String> versionIds = node.stringMap("version_ids");
    ConfigNode s3Node = node.child("s3");
    S3Config s3 =
        new S3Config(
            s3Node.string("endpoint", s3Defaults.endpoint()),
            s3Node.string("region", s3Defaults.region()),
            s3Node.bool("path_style", s3Defaults.pathStyle()),
            s3Node.bool("anonymous", s3Defaults.anonymous()),
            s3Defaults.requirePins());
    boolean s3Given = !s3Node.isEmpty();
    checkEndpoint(s3Node, s3.endpoint());
    s3Node.finish();
    node.finish();

    if (name == null) {
      throw node.error(node.qualify("name"), "is missing: every model needs a URL-safe name");
    }
    if (!MODEL_NAME.matcher(name).matches()) {
      throw node.error(
          node.qualify("name"),
          "'"
              + name
              + "' is not URL-safe: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }
    if (sourceText == null) {
      throw node.error(
          node.qualify("source"),
          "is missing for model '" + name + "' (file:<dir>, hf://org/name or s3://bucket/prefix)");
    }
    SourceRef source = source(sourceText, repoType, node, baseDir);
    boolean isS3 = source.scheme() == SourceRef.Scheme.S3;
    if (!isS3 && s3Given) {
      throw node.error(node.qualify("s3"), "only applies to s3:// sources");
    }
    if (!isS3 && !versionIds.isEmpty()) {
      throw node.error(node.qualify("version_ids"), "only applies to s3:// sources");
    }
    for (Map.Entry<String, String> version : versionIds.entrySet()) {
      if (version.getValue().isBlank()
          || version.getValue().length() > 1024
          || version.getValue().chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
        throw node.error(
            node.qualify("version_ids") + "." + version.getKey(),
            "must be an S3 version id (printable ASCII, no spaces), not '"
                + version.getValue()
                + "'");
      }
    }
    if (requirePinsText == null) {
      requirePins = isS3 && s3.requirePins();
    }
    Map<String, String> pins = new LinkedHashMap<>();
    for (Map.Entry<String, String> pin : rawPins.entrySet()) {
      String digest = pin.getValue().strip().toLowerCase(Locale.ROOT);
      if (!SHA256.matcher(digest).matches()) {
        throw node.error(
            node.qualify("sha256") + "." + pin.getKey(),
            "must be 64 hex digits (a SHA-256), not '" + pin.getValue() + "'");
      }
      pins.put(pin.getKey(), digest);
    }
    String engineText = engine;
    engine =
        ENGINES.stream()
            .filter(engineText::equalsIgnoreCase)
            .findFirst()
            .orElseThrow(
                () ->
                    node.error(
                        node.qualify("engine"),
                        "must be one of "
                            + String.join(", ", ENGINES)
                            + ", not '"
                            + engineText
                            + "'"));
    if (modelFile != null
        && (modelFile.isBlank()
            || modelFile.startsWith("/")
            || modelFile.contains("\\")
            || List.of(modelFile.split("/")).contains(".."))) {
      throw node.error(
          node.qualify("model_file"),
          "'"
              + modelFile
              + "' must be a path relative to the model's folder, without '..' (such as"
              + " onnx/model.onnx)");
    }
    if (!load.equals("preload") && !load.equals("lazy")) {
      throw node.error(node.qualify("load"), "must be preload or lazy, not '" + load + "'");
    }
    if (!DEVICE.matcher(device).matches()) {
      throw node.error(
          node.qualify("device"), "must be auto, cpu, gpu or gpu:N, not '" + device + "'");
    }
    return new ModelConfig(
        name,
        source,
        include,
        exclude,
        pins,
        engine,
        task,
        device,
        workers,
        batchSize,
        batchDelay,
        queue,
        timeoutMs,
        load.equals("lazy"),
        required,
        modelFile,
        taskOptions,
        requirePins,
        isS3 ? s3 : null,
        versionIds);
  }

  /**
   * The {@code task_options:} of one model; each option is checked against the task it applies to,
   * so that an option the task would ignore fails instead.
   */
  private static TaskOptions taskOptions(ConfigNode node, Task task) {
    Integer maxLength = node.has("max_length") ? node.integer("max_length", 0, 1, 65_536) : null;
    Pooling pooling = node.choice("pooling", null, Pooling.class);
    Boolean normalize = node.has("normalize") ? node.bool("normalize", false) : null;
    Integer topK = node.has("top_k") ? node.integer("top_k", 0, 0, 100_000) : null;
    Scores scores = node.choice("scores", null, Scores.class);
    List<Double> size = node.numbers("image_size", 1, 4096);
    Integer resize = node.has("resize") ? node.integer("resize", 0, 1, 8192) : null;
    List<Double> mean = node.numbers("mean", -1000, 1000);
    List<Double> std = node.numbers("std", 1e-6, 1000);
    node.finish();
    Map<String, Boolean> set = new LinkedHashMap<>();
    set.put("max_length", maxLength != null);
    set.put("pooling", pooling != null);
    set.put("normalize", normalize != null);
    set.put("top_k", topK != null);
    set.put("scores", scores != null);
    set.put("image_size", size != null);
    set.put("resize", resize != null);
    set.put("mean", mean != null);
    set.put("std", std != null);
    List<String> allowed = TASK_OPTIONS.get(task);
    for (Map.Entry<String, Boolean> option : set.entrySet()) {
      if (option.getValue() && !allowed.contains(option.getKey())) {
        throw node.error(
            node.qualify(option.getKey()),
            "does not apply to task "
                + task
                + (allowed.isEmpty()
                    ? ", which takes no task_options"
                    : " (its options: " + String.join(", ", allowed) + ")"));
      }
    }
    List<Integer> imageSize = null;
    if (size != null) {
      if (size.size() > 2 || size.stream().anyMatch(v -> v != Math.rint(v))) {
        throw node.error(
            node.qualify("image_size"), "must be one whole number or [height, width], not " + size);
      }
      int height = size.get(0).intValue();
      imageSize = List.of(height, size.size() == 2 ? size.get(1).intValue() : height);
    }
    checkChannels(node, "mean", mean);
    checkChannels(node, "std", std);
    return new TaskOptions(
        maxLength,
        pooling,
        normalize,
        topK,
        scores,
        imageSize,
        resize,
        threeChannels(mean),
        threeChannels(std));
  }

  private static void checkChannels(ConfigNode node, String key, List<Double> values) {
    if (values != null && values.size() != 1 && values.size() != 3) {
      throw node.error(
          node.qualify(key),
          "must be one number or three (red, green, blue), not " + values.size());
    }
  }

  private static List<Double> threeChannels(List<Double> values) {
    return values == null || values.size() == 3
        ? values
        : List.of(values.get(0), values.get(0), values.get(0));
  }

  private static SourceRef source(String text, String repoType, ConfigNode node, Path baseDir) {
    String key = node.qualify("source");
    if (repoType != null && !text.startsWith("hf://")) {
      throw node.error(node.qualify("repo_type"), "only applies to hf:// sources");
    }
    if (repoType != null && !repoType.equals("model") && !repoType.equals("dataset")) {
      throw node.error(
          node.qualify("repo_type"), "must be model or dataset, not '" + repoType + "'");
    }
    if (text.startsWith("file:")) {
      String location = text.substring("file:".length());
      if (location.startsWith("//")) {
        location = location.substring(2);
      }
      if (location.isBlank()) {
        throw node.error(key, "'" + text + "' names no directory");
      }
      return new SourceRef(
          SourceRef.Scheme.FILE,
          baseDir.resolve(location).normalize().toString(),
          null,
          null,
          text);
    }
    if (text.startsWith("hf://")) {
      String rest = text.substring("hf://".length());
      int at = rest.indexOf('@');
      String repo = at < 0 ? rest : rest.substring(0, at);
      String revision = at < 0 ? "main" : rest.substring(at + 1);
      if (!HF_REPO.matcher(repo).matches()
          || revision.isBlank()
          || repo.contains("--")
          || repo.endsWith(".")) {
        throw node.error(key, "'" + text + "' is not hf://{org}/{name}[@revision]");
      }
      return new SourceRef(
          SourceRef.Scheme.HF, repo, revision, repoType == null ? "model" : repoType, text);
    }
    if (text.startsWith("s3://")) {
      String rest = text.substring("s3://".length());
      int slash = rest.indexOf('/');
      String bucket = slash < 0 ? rest : rest.substring(0, slash);
      String prefix = slash < 0 ? "" : rest.substring(slash + 1);
      while (prefix.endsWith("/")) {
        prefix = prefix.substring(0, prefix.length() - 1);
      }
      boolean badPrefix =
          !prefix.isEmpty()
              && (prefix.contains("\\")
                  || prefix.chars().anyMatch(c -> c < 0x20)
                  || java.util.Arrays.stream(prefix.split("/", -1))
                      .anyMatch(s -> s.isEmpty() || s.equals(".") || s.equals("..")));
      if (!S3_BUCKET.matcher(bucket).matches() || badPrefix) {
        throw node.error(
            key,
            "'"
                + text
                + "' is not s3://{bucket}/{prefix} (a bucket name of 3 to 63 letters, digits, '.', '-' or"
                + " '_', and a prefix without empty, '.' or '..' segments)");
      }
      return new SourceRef(
          SourceRef.Scheme.S3, prefix.isEmpty() ? bucket : bucket + "/" + prefix, null, null, text);
    }
    throw node.error(
        key,
        "'"
            + text
            + "' has an unknown scheme: use file:<dir>, hf://org/name[@revision] or s3://bucket/prefix");
  }

  /** An S3 endpoint must be an absolute http(s) URL. */
  private static void checkEndpoint(ConfigNode node, String endpoint) {
    if (endpoint == null) {
      return;
    }
    java.net.URI uri;
    try {
      uri = new java.net.URI(endpoint);
    } catch (java.net.URISyntaxException e) {
      uri = null;
    }
    if (uri == null
        || uri.getHost() == null
        || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
      throw node.error(
          node.qualify("endpoint"),
          "must be an http(s) URL such as https://s3.example.com:9000, not '" + endpoint + "'");
    }
  }

  /**
   * The Hub cache that huggingface_hub would use, when the environment names one: {@code
   * HF_HUB_CACHE}, else {@code $HF_HOME/hub}, {@code ~} expanded and relative paths taken from the
   * working directory as Python does; null when neither is set. Its parent becomes the cache root.
   */
  private Path hfHubCache() {
    String variable;
    String value;
    if (!blank(env.get("HF_HUB_CACHE"))) {
      variable = "HF_HUB_CACHE";
      value = env.get("HF_HUB_CACHE");
    } else if (!blank(env.get("HF_HOME"))) {
      variable = "HF_HOME";
      value = env.get("HF_HOME");
    } else {
      return null;
    }
    Path path = workDir.resolve(expandHome(value)).normalize();
    Path hub = variable.equals("HF_HOME") ? path.resolve("hub") : path;
    String name = hub.getFileName() == null ? "" : hub.getFileName().toString();
    if (hub.getParent() == null || RESERVED_CACHE_NAMES.contains(name)) {
      throw new ConfigException(
          variable
              + " ("
              + value
              + ") puts the Hub cache at "
              + hub
              + ", where modelcache cannot keep its own state beside it (in its parent folder, as"
              + " .modelcache/, local/ and s3/): set cache.dir or MODELCACHE_CACHE_DIR, or point "
              + variable
              + " at a folder of its own");
    }
    return hub;
  }

  /**
   * cache.dir wins over HF_HUB_CACHE; a Python app given the same environment would then look for
   * the Hub models elsewhere, which is worth a warning.
   */
  private void warnIfTheHubCacheDiffers(Path hubDir) {
    Path named;
    try {
      named = hfHubCache();
    } catch (ConfigException unusable) {
      named = null; // not used anyway: cache.dir decides
    }
    if (named != null && !named.equals(hubDir)) {
      String variable = blank(env.get("HF_HUB_CACHE")) ? "HF_HOME" : "HF_HUB_CACHE";
      log.warn(
          "cache - the Hub models go to {} (cache.dir wins), but {} names the Hub cache {}:"
              + " huggingface_hub given this environment looks there and will not find them; set"
              + " {} to {}, or leave cache.dir and MODELCACHE_CACHE_DIR unset",
          hubDir,
          variable,
          named,
          variable.equals("HF_HOME") ? "HF_HUB_CACHE" : variable,
          hubDir);
    }
  }

  private String expandHome(String value) {
    if (value.equals("~") || value.startsWith("~/")) {
      String home = blank(env.get("HOME")) ? System.getProperty("user.home") : env.get("HOME");
      return home + value.substring(1);
    }
    return value;
  }

  private static boolean blank(String value) {
    return value == null || value.isBlank();
  }

  /**
   * The token that {@code huggingface-cli login} stored: {@code $HF_TOKEN_PATH}, else {@code
   * $HF_HOME/token}, else {@code $XDG_CACHE_HOME/huggingface/token} or {@code
   * ~/.cache/huggingface/token}.
   */
  private Secret tokenFile() {
    Path file;
    if (env.get("HF_TOKEN_PATH") != null) {
      file = Path.of(env.get("HF_TOKEN_PATH"));
    } else if (env.get("HF_HOME") != null) {
      file = Path.of(env.get("HF_HOME"), "token");
    } else if (env.get("XDG_CACHE_HOME") != null) {
      file = Path.of(env.get("XDG_CACHE_HOME"), "huggingface", "token");
    } else if (env.get("HOME") != null) {
      file = Path.of(env.get("HOME"), ".cache", "huggingface", "token");
    } else {
      return null;
    }
    try {
      return Files.isReadable(file)
          ? Secret.ofNullable(Files.readString(file, StandardCharsets.UTF_8))
          : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** {@code env} without the service-link variables of {@link #SERVICE_LINK_NAME}. */
  static Map<String, String> withoutServiceLinks(Map<String, String> env) {
    Map<String, String> result = new HashMap<>();
    env.forEach(
        (name, value) -> {
          boolean link =
              name.startsWith("MODELCACHE_")
                  && (SERVICE_LINK_NAME.matcher(name).matches()
                      || (name.endsWith("_PORT")
                          && value != null
                          && SERVICE_LINK_VALUE.matcher(value).matches()));
          if (!link) {
            result.put(name, value);
          }
        });
    return Map.copyOf(result);
  }

  private Map<String, String> resolveAliases() {
    Map<String, String> result = new HashMap<>(env);
    for (Map.Entry<String, String> alias : ALIASES.entrySet()) {
      String value = env.get(alias.getKey());
      if (value != null && !env.containsKey(alias.getValue())) {
        result.put(alias.getValue(), value);
      }
    }
    return result;
  }

  private static void rejectUnknownOverrides(
      Map<String, String> env, Set<String> known, String tokenEnv) {
    for (String name : new TreeSet<>(env.keySet())) {
      if (name.startsWith("MODELCACHE_")
          && !known.contains(name)
          && !ALIASES.containsKey(name)
          && !NOT_OVERRIDES.contains(name)
          && !name.equals(tokenEnv)) {
        throw new ConfigException(
            "environment variable "
                + name
                + " is not a modelcache setting (known: "
                + String.join(", ", new TreeSet<>(known))
                + ", MODELCACHE_PORT, MODELCACHE_OFFLINE, MODELCACHE_CONFIG, "
                + "MODELCACHE_TOKEN); unset it or fix its name");
      }
    }
  }

  private static boolean truthy(String value) {
    return value != null
        && Set.of("1", "true", "yes", "on").contains(value.strip().toLowerCase(Locale.ROOT));
  }

  private static String stripTrailingSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }
}
