package dev.modelcache.config;

import dev.modelcache.config.Config.GcsConfig;
import dev.modelcache.config.Config.HfConfig;
import dev.modelcache.config.Config.OciConfig;
import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.Config.SourcesConfig;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code sources:}: the Hub's endpoint and token ({@code HF_ENDPOINT}, {@code HF_TOKEN} and
 * the token file of {@code huggingface-cli login} as fallbacks) and the S3 defaults: the keys, else
 * the AWS CLI's environment variables and profile ({@link AwsEnvironment}); Azure's ({@link
 * AzureReader}); Google Cloud Storage's endpoint and HMAC key (the keys, else {@value
 * #GCS_ACCESS_ID_ENV} and {@value #GCS_SECRET_ENV}).
 */
final class SourcesReader {
  static final String GCS_ACCESS_ID_ENV = "GCS_HMAC_ACCESS_ID";
  static final String GCS_SECRET_ENV = "GCS_HMAC_SECRET";

  /** Google's clients' convention for a Cloud Storage emulator's JSON API ({@code host:port}). */
  static final String STORAGE_EMULATOR_ENV = "STORAGE_EMULATOR_HOST";

  private final Map<String, String> env;

  SourcesReader(Map<String, String> env) {
    this.env = env;
  }

  SourcesConfig read(ConfigNode node, Path baseDir) {
    HfConfig hf = hf(node.child("hf"));
    ConfigNode s3Node = node.child("s3");
    AwsEnvironment aws = new AwsEnvironment(env);
    String endpoint = s3Node.string("endpoint");
    if (endpoint != null) {
      checkEndpoint(s3Node, endpoint);
    } else {
      AwsEnvironment.Endpoint fromEnv = aws.endpoint().orElse(null);
      if (fromEnv != null) {
        checkEndpoint(fromEnv.variable() + " (the environment)", fromEnv.url());
        endpoint = fromEnv.url();
      }
    }
    String region = s3Node.string("region");
    S3Config s3 =
        new S3Config(
            endpoint,
            region != null ? region : aws.region(),
            s3Node.bool("path_style", false),
            s3Node.bool("anonymous", false),
            s3Node.bool("require_pins", false));
    s3Node.finish();
    OciConfig oci = oci(node.child("oci"), baseDir);
    GcsConfig gcs = gcs(node.child("gcs"));
    Config.AzureConfig azure = new AzureReader(env).read(node.child("azure"));
    node.finish();
    return new SourcesConfig(hf, s3, oci, gcs, azure);
  }

  private GcsConfig gcs(ConfigNode node) {
    String endpoint = node.string("endpoint", GcsConfig.GCS_ENDPOINT);
    checkEndpoint(node, endpoint);
    String accessId = node.string("hmac_access_id");
    if (accessId == null || accessId.isBlank()) {
      accessId = env.get(GCS_ACCESS_ID_ENV);
    }
    Secret secret = Secret.ofNullable(node.string("hmac_secret"));
    if (secret == null) {
      secret = Secret.ofNullable(env.get(GCS_SECRET_ENV));
    }
    boolean anonymous = node.bool("anonymous", false);
    boolean requirePins = node.bool("require_pins", false);
    String jsonEndpoint = node.string("json_endpoint");
    String host = env.get(STORAGE_EMULATOR_ENV);
    boolean emulator = false;
    if (jsonEndpoint != null) {
      if (!isHttpUrl(jsonEndpoint)) {
        throw node.error(node.qualify("json_endpoint"), mustBeUrl(jsonEndpoint));
      }
    } else if (host != null && !host.isBlank()) {
      host = host.strip();
      jsonEndpoint = host.contains("://") ? host : "http://" + host;
      checkEndpoint(STORAGE_EMULATOR_ENV + " (the environment)", jsonEndpoint);
      emulator = true;
    } else {
      jsonEndpoint = GcsConfig.GCS_ENDPOINT;
    }
    node.finish();
    accessId = accessId == null || accessId.isBlank() ? null : accessId.strip();
    if ((accessId == null) != (secret == null)) {
      throw new ConfigException(
          "sources.gcs: an HMAC key needs both its access id (hmac_access_id or "
              + GCS_ACCESS_ID_ENV
              + ") and its secret (hmac_secret or "
              + GCS_SECRET_ENV
              + "); only the "
              + (accessId == null ? "secret" : "access id")
              + " is set");
    }
    return new GcsConfig(
        stripTrailingSlash(endpoint),
        accessId,
        secret,
        anonymous,
        requirePins,
        stripTrailingSlash(jsonEndpoint),
        emulator);
  }

  private HfConfig hf(ConfigNode node) {
    String endpoint = node.string("endpoint");
    if (endpoint == null) {
      endpoint = env.getOrDefault("HF_ENDPOINT", "https://huggingface.co");
    }
    Secret token = Secret.ofNullable(node.string("token"));
    if (token == null) {
      token = Secret.ofNullable(env.getOrDefault("HF_TOKEN", env.get("HUGGING_FACE_HUB_TOKEN")));
    }
    if (token == null) {
      token = tokenFile();
    }
    HfConfig hf = new HfConfig(stripTrailingSlash(endpoint), token);
    node.finish();
    return hf;
  }

  /**
   * {@code sources.oci}: the registries reached over plain http, and Docker's {@code config.json}
   * ({@code docker_config}, relative to the config's folder, else {@code
   * $DOCKER_CONFIG/config.json}, else {@code ~/.docker/config.json}; none when that file does not
   * exist).
   */
  private OciConfig oci(ConfigNode node, Path baseDir) {
    // the variable holds the registries separated by commas
    List<String> plainHttp =
        env.get(node.envName("plain_http")) == null
            ? node.strings("plain_http")
            : java.util.Arrays.stream(node.string("plain_http", "").split(","))
                .map(String::strip)
                .filter(registry -> !registry.isEmpty())
                .toList();
    for (String registry : plainHttp) {
      if (registry.isBlank() || registry.contains("/")) {
        throw node.error(
            node.qualify("plain_http"),
            "lists registries as host[:port] (such as registry.internal:5000), not '"
                + registry
                + "'");
      }
    }
    String given = node.string("docker_config");
    Path dockerConfig;
    if (given != null) {
      dockerConfig = baseDir.resolve(given);
      if (!Files.isRegularFile(dockerConfig)) {
        throw node.error(node.qualify("docker_config"), "(" + given + ") is not a file");
      }
    } else if (env.get("DOCKER_CONFIG") != null) {
      dockerConfig = Path.of(env.get("DOCKER_CONFIG"), "config.json");
    } else if (env.get("HOME") != null) {
      dockerConfig = Path.of(env.get("HOME"), ".docker", "config.json");
    } else {
      dockerConfig = null;
    }
    node.finish();
    return new OciConfig(
        plainHttp, dockerConfig != null && Files.isRegularFile(dockerConfig) ? dockerConfig : null);
  }

  /** An S3 endpoint must be an absolute http(s) URL. */
  static void checkEndpoint(ConfigNode node, @Nullable String endpoint) {
    if (endpoint != null && !isHttpUrl(endpoint)) {
      throw node.error(node.qualify("endpoint"), mustBeUrl(endpoint));
    }
  }

  /** The same for an endpoint from an environment variable, named by {@code where}. */
  private static void checkEndpoint(String where, String endpoint) {
    if (!isHttpUrl(endpoint)) {
      throw new ConfigException(where + " " + mustBeUrl(endpoint));
    }
  }

  private static String mustBeUrl(String endpoint) {
    return "must be an http(s) URL such as https://s3.example.com:9000, not '" + endpoint + "'";
  }

  private static boolean isHttpUrl(String endpoint) {
    URI uri;
    try {
      uri = new URI(endpoint);
    } catch (URISyntaxException e) {
      uri = null;
    }
    return uri != null
        && uri.getHost() != null
        && ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()));
  }

  /**
   * The token that {@code huggingface-cli login} stored: {@code $HF_TOKEN_PATH}, else {@code
   * $HF_HOME/token}, else {@code $XDG_CACHE_HOME/huggingface/token} or {@code
   * ~/.cache/huggingface/token}.
   */
  private @Nullable Secret tokenFile() {
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

  private static String stripTrailingSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }
}
