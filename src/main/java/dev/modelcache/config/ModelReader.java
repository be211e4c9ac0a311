package dev.modelcache.config;

import dev.modelcache.config.Config.GcsConfig;
import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.ModelConfig.TaskKind;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reads one item of {@code models:}, its {@code batch:}, {@code task_options:} and {@code s3:}
 * included, into a {@link ModelConfig} with every default filled in: {@code engine} is never null
 * ({@code auto}), nor are {@code taskOptions} ({@link TaskOptions#NONE}).
 */
final class ModelReader {
  private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern DEVICE = Pattern.compile("auto|cpu|gpu|gpu:[0-9]{1,2}");
  private static final List<String> ENGINES = List.of("auto", "PyTorch", "OnnxRuntime");

  private final Path baseDir;
  private final S3Config s3Defaults;
  private final GcsConfig gcs;
  private final boolean azureRequirePins; // sources.azure.require_pins

  /**
   * @param baseDir what a relative {@code file:} source resolves against
   * @param s3Defaults {@code sources.s3}, which a model's own {@code s3:} overrides key by key
   * @param gcs {@code sources.gcs}: every {@code gs://} model's settings
   */
  ModelReader(Path baseDir, S3Config s3Defaults, GcsConfig gcs, boolean azureRequirePins) {
    this.baseDir = baseDir;
    this.s3Defaults = s3Defaults;
    this.gcs = gcs;
    this.azureRequirePins = azureRequirePins;
  }

  ModelConfig read(ConfigNode node) {
    Keys keys = new Keys(node, s3Defaults);
    String name = checkName(node, keys.name);
    String sourceText = sourceText(node, keys, name);
    boolean isUrl = sourceText.equals("url");
    boolean isS3 = !isUrl && sourceText.startsWith("s3://");
    boolean isGcs = !isUrl && sourceText.startsWith("gs://");
    checkS3Keys(node, isS3, keys.s3Given, keys.versionIds);
    boolean isAzure = !isUrl && SourceRef.azureLocation(sourceText) != null;
    boolean requirePins =
        keys.requirePinsText == null
            ? isUrl
                || (isS3 && keys.s3.requirePins())
                || (isGcs && gcs.requirePins())
                || (isAzure && azureRequirePins)
            : keys.requirePins;
    UrlFilesReader.SourceAndPins read;
    if (isUrl) {
      checkUrlKeys(node, keys);
      read = UrlFilesReader.read(name, keys.files, requirePins, node);
    } else {
      read =
          new UrlFilesReader.SourceAndPins(
              SourceRefReader.read(sourceText, keys.repoType, node, baseDir),
              pins(node, keys.rawPins));
    }
    SourceRef source = read.source();
    Map<String, String> pins = read.pins();
    String engine = engine(node, keys.engine);
    checkModelFile(node, keys.modelFile);
    checkLoadAndDevice(node, keys);
    WatchReader.check(node, name, keys.watch, source, pins, keys.versionIds);
    return new ModelConfig(
        name,
        source,
        keys.include,
        keys.exclude,
        pins,
        engine,
        keys.task,
        keys.device,
        keys.workers,
        1, // ConfigLoader resolves server.engine_threads once every model's workers are known
        keys.batchSize,
        keys.batchDelay,
        keys.queue,
        keys.timeoutMs,
        keys.load.equals("lazy"),
        keys.required,
        keys.modelFile,
        keys.taskOptions,
        requirePins,
        isS3 ? keys.s3 : isGcs ? gcs.s3() : null,
        keys.versionIds,
        VersionsReader.read(node, keys.versions, keys.canary, source, source.revision()),
        keys.watch);
  }

  private static void checkLoadAndDevice(ConfigNode node, Keys keys) {
    if (!keys.load.equals("preload") && !keys.load.equals("lazy")) {
      throw node.error(node.qualify("load"), "must be preload or lazy, not '" + keys.load + "'");
    }
    if (!DEVICE.matcher(keys.device).matches()) {
      throw node.error(
          node.qualify("device"), "must be auto, cpu, gpu or gpu:N, not '" + keys.device + "'");
    }
  }

  /**
   * Every key of one model, read before any is checked, so that a misspelt key is reported as such
   * rather than as a missing one.
   */
  private static final class Keys {
    final @Nullable String name;
    final @Nullable String sourceText;
    final @Nullable String repoType;
    final List<String> include;
    final List<String> exclude;
    final Map<String, String> rawPins;
    final String engine;
    final @Nullable String modelFile;
    final TaskKind task;
    final TaskOptions taskOptions;
    final String device;
    final int workers;
    final int batchSize;
    final int batchDelay;
    final int queue;
    final int timeoutMs;
    final String load;
    final boolean required;
    final @Nullable String requirePinsText;
    final boolean requirePins;
    final Map<String, String> versionIds;
    final S3Config s3;
    final boolean s3Given;
    final List<UrlFilesReader.Item> files;
    final @Nullable WatchConfig watch;
    final int versions;
    final ConfigNode canary;

    Keys(ConfigNode node, S3Config s3Defaults) {
      name = node.string("name");
      sourceText = node.string("source");
      repoType = node.string("repo_type");
      files = node.list("files").stream().map(UrlFilesReader.Item::read).toList();
      include = node.strings("include");
      exclude = node.strings("exclude");
      rawPins = node.stringMap("sha256");
      engine = node.string("engine", "auto");
      modelFile = node.string("model_file");
      task = node.choice("task", TaskKind.TENSOR, TaskKind.class);
      taskOptions = TaskOptionsReader.read(node.child("task_options"), task);
      device = node.string("device", "auto").strip().toLowerCase(Locale.ROOT);
      workers = node.integer("workers", 1, 1, 64);
      ConfigNode batch = node.child("batch");
      batchSize = batch.integer("max_size", 1, 1, 1024);
      batchDelay = batch.integer("max_delay_ms", 0, 0, 10_000);
      batch.finish();
      queue = node.integer("queue", 64, 1, 100_000);
      timeoutMs = node.integer("timeout_ms", 30_000, 1, 3_600_000);
      load = node.string("load", "preload").strip().toLowerCase(Locale.ROOT);
      required = node.bool("required", true);
      requirePinsText = node.string("require_pins");
      requirePins = node.bool("require_pins", false);
      versionIds = node.stringMap("version_ids");
      watch = WatchReader.read(node);
      ConfigNode s3Node = node.child("s3");
      s3 =
          new S3Config(
              s3Node.stringOrNull("endpoint", s3Defaults.endpoint()),
              s3Node.string("region", s3Defaults.region()),
              s3Node.bool("path_style", s3Defaults.pathStyle()),
              s3Node.bool("anonymous", s3Defaults.anonymous()),
              s3Defaults.requirePins());
      s3Given = !s3Node.isEmpty();
      SourcesReader.checkEndpoint(s3Node, s3.endpoint());
      s3Node.finish();
      versions = node.integer("versions", 1, 1, ModelVersions.MAX_KEEP);
      canary = node.child("canary");
      node.finish();
    }
  }

  private static String checkName(ConfigNode node, @Nullable String name) {
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
    return name;
  }

  /**
   * The model's source text: {@code url} for a url model ({@code source: url}, or {@code files:}
   * without a source); fails when it has no source at all, or {@code files:} with another source.
   */
  private static String sourceText(ConfigNode node, Keys keys, String name) {
    if (keys.sourceText == null) {
      if (keys.files.isEmpty()) {
        throw node.error(
            node.qualify("source"),
            "is missing for model '"
                + name
                + "' (file:<dir>, hf://org/name, s3://bucket/prefix, gs://bucket/prefix, az://account/container/prefix,"
                + " or url with"
                + " files:)");
      }
      return "url";
    }
    String text = keys.sourceText.strip().equals("url") ? "url" : keys.sourceText;
    if (!text.equals("url") && !keys.files.isEmpty()) {
      throw node.error(node.qualify("files"), "only applies to url models (source: url)");
    }
    return text;
  }

  /** A url model's files come with their pins and paths: no patterns, no {@code sha256:} map. */
  private static void checkUrlKeys(ConfigNode node, Keys keys) {
    String misplaced =
        !keys.include.isEmpty()
            ? "include"
            : !keys.exclude.isEmpty()
                ? "exclude"
                : !keys.rawPins.isEmpty() ? "sha256" : keys.repoType != null ? "repo_type" : null;
    if (misplaced != null) {
      throw node.error(
          node.qualify(misplaced),
          "does not apply to url models: list exactly the files wanted under files:, each with"
              + " its own sha256");
    }
  }

  /** {@code s3:} and {@code version_ids:} apply to s3:// sources only; version ids are ASCII. */
  private static void checkS3Keys(
      ConfigNode node, boolean isS3, boolean s3Given, Map<String, String> versionIds) {
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
  }

  /** The {@code sha256:} pins, lower-cased, each checked to be a SHA-256. */
  private static Map<String, String> pins(ConfigNode node, Map<String, String> rawPins) {
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
    return pins;
  }

  /** The engine as modelcache spells it, whatever the case it was given in. */
  private static String engine(ConfigNode node, String text) {
    return ENGINES.stream()
        .filter(text::equalsIgnoreCase)
        .findFirst()
        .orElseThrow(
            () ->
                node.error(
                    node.qualify("engine"),
                    "must be one of " + String.join(", ", ENGINES) + ", not '" + text + "'"));
  }

  private static void checkModelFile(ConfigNode node, @Nullable String modelFile) {
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
  }
}
