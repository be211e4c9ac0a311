package dev.modelcache.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.modelcache.config.Config.CacheConfig;
import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.config.Config.SourcesConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

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
 *
 * <p>Each section has its reader ({@link CacheReader}, {@link SourcesReader}, {@link ServerReader},
 * {@link ModelReader}), which fills in the defaults once; this class parses the text, resolves the
 * variables' aliases, composes the sections and fails on an unknown key or variable.
 */
public final class ConfigLoader {
  public static final String EMBEDDED = "embedded default config";
  static final String EMBEDDED_RESOURCE = "/dev/modelcache/config/default.yaml";

  /** Short names kept for convenience; each stands for the full override variable. */
  private static final Map<String, String> ALIASES =
      Map.of(
          "MODELCACHE_PORT",
          "MODELCACHE_SERVER_PORT",
          "MODELCACHE_GRPC_PORT",
          "MODELCACHE_SERVER_GRPC_PORT",
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
  public Config load(@Nullable Path file) {
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
    // A file that could be read is not the root: it has a parent folder.
    return parse(text, file.toString(), Objects.requireNonNull(absolute.getParent()));
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

    CacheConfig cache = new CacheReader(env, workDir).read(top.child("cache"), baseDir);
    SourcesConfig sources = new SourcesReader(env).read(top.child("sources"), baseDir);
    ServerConfig server = new ServerReader(env).read(top.child("server"));
    Config.VerificationConfig verification =
        new VerificationReader(env).read(top.child("verification"), baseDir);

    List<ModelConfig> models = new ArrayList<>();
    Set<String> names = new HashSet<>();
    ModelReader modelReader =
        new ModelReader(baseDir, sources.s3(), sources.gcs(), sources.azure().requirePins());
    for (ConfigNode node : top.list("models")) {
      ModelConfig model = modelReader.read(node);
      if (!names.add(model.name())) {
        throw new ConfigException(
            origin + ": model name '" + model.name() + "' is used twice; names must be unique",
            node.qualify("name"));
      }
      models.add(model);
    }
    top.finish();
    keysRead = Set.copyOf(top.keys());
    rejectUnknownOverrides(effectiveEnv, envNames, server.tokenEnv());
    int threads =
        engineThreads(server.engineThreads(), Runtime.getRuntime().availableProcessors(), models);
    models.replaceAll(model -> model.withThreads(threads));
    return new Config(origin, baseDir, cache, sources, server, models, verification);
  }

  /**
   * The intra-op threads of one forward pass: {@code configured} when given, else ({@code auto})
   * the cores shared out among the passes that may run at once, every model's {@code workers}
   * together, and at least 1, so that the passes together never ask for more threads than cores.
   */
  static int engineThreads(int configured, int cores, List<ModelConfig> models) {
    if (configured > 0) {
      return configured;
    }
    int passes = models.stream().mapToInt(ModelConfig::workers).sum();
    return Math.max(1, cores / Math.max(1, passes));
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
    return new ModelReader(
            config.baseDir(),
            config.sources().s3(),
            config.sources().gcs(),
            config.sources().azure().requirePins())
        .read(new ConfigNode(node, "the command line", Map.of(), new HashSet<>()));
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
                + ", MODELCACHE_PORT, MODELCACHE_GRPC_PORT, MODELCACHE_OFFLINE, MODELCACHE_CONFIG, "
                + "MODELCACHE_TOKEN); unset it or fix its name");
      }
    }
  }
}
