package dev.modelcache.config;

import dev.modelcache.config.Config.HfConfig;
import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.Config.SourcesConfig;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code sources:}: the Hub's endpoint and token ({@code HF_ENDPOINT}, {@code HF_TOKEN} and
 * the token file of {@code huggingface-cli login} as fallbacks), the S3 defaults: the keys, else
 * the AWS CLI's environment variables and profile ({@link AwsEnvironment}), and Azure's ({@link
 * AzureReader}).
 */
final class SourcesReader {
  private final Map<String, String> env;

  SourcesReader(Map<String, String> env) {
    this.env = env;
  }

  SourcesConfig read(ConfigNode node) {
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
    Config.AzureConfig azure = new AzureReader(env).read(node.child("azure"));
    node.finish();
    return new SourcesConfig(hf, s3, azure);
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
