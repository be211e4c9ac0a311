package dev.modelcache.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.profiles.Profile;
import software.amazon.awssdk.profiles.ProfileFile;

/**
 * The AWS CLI's conventions for the S3 client's endpoint and region, read from an environment map
 * (the process environment in production, a map in tests):
 *
 * <ul>
 *   <li>endpoint: {@code AWS_ENDPOINT_URL_S3}, else {@code AWS_ENDPOINT_URL}; neither when {@code
 *       AWS_IGNORE_CONFIGURED_ENDPOINT_URLS} (else the profile's {@code
 *       ignore_configured_endpoint_urls}) is true. With none, the SDK itself looks in the profile
 *       ({@code services} section's {@code s3 = endpoint_url}, then the profile's {@code
 *       endpoint_url}), then uses AWS's endpoint for the region.
 *   <li>region: {@code AWS_REGION}, else {@code AWS_DEFAULT_REGION}, else the profile's {@code
 *       region}, else {@value #DEFAULT_REGION}.
 *   <li>profile: {@code AWS_PROFILE} (else {@code default}) in {@code AWS_CONFIG_FILE} (else {@code
 *       ~/.aws/config}), parsed by the SDK's profile parser.
 * </ul>
 *
 * The config's own keys ({@code sources.s3.*}, a model's {@code s3.*}) win over all of these.
 */
final class AwsEnvironment {
  static final String DEFAULT_REGION = "us-east-1";

  /** An endpoint found in the environment and the variable that gave it. */
  record Endpoint(String url, String variable) {}

  private final Map<String, String> env;

  AwsEnvironment(Map<String, String> env) {
    this.env = env;
  }

  /** The service-specific variable, else the generic one, else none (empty values do not count). */
  Optional<Endpoint> endpoint() {
    String ignore =
        value("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .or(() -> profile().flatMap(p -> p.property("ignore_configured_endpoint_urls")))
            .orElse("");
    if ("true".equalsIgnoreCase(ignore.strip())) {
      return Optional.empty();
    }
    for (String variable : new String[] {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
      Optional<String> url = value(variable);
      if (url.isPresent()) {
        return Optional.of(new Endpoint(url.get(), variable));
      }
    }
    return Optional.empty();
  }

  /** {@code AWS_REGION}, {@code AWS_DEFAULT_REGION}, the profile's region, {@code us-east-1}. */
  String region() {
    return value("AWS_REGION")
        .or(() -> value("AWS_DEFAULT_REGION"))
        .or(() -> profile().flatMap(p -> p.property("region")).filter(r -> !r.isBlank()))
        .orElse(DEFAULT_REGION);
  }

  /** The profile {@code AWS_PROFILE} names (or {@code default}) in the config file, if any. */
  Optional<Profile> profile() {
    Path file = configFile();
    if (file == null || !Files.isRegularFile(file)) {
      return Optional.empty();
    }
    String name = value("AWS_PROFILE").orElse("default");
    try {
      return ProfileFile.builder()
          .content(file)
          .type(ProfileFile.Type.CONFIGURATION)
          .build()
          .profile(name);
    } catch (RuntimeException e) {
      throw new ConfigException(
          file
              + " (the AWS config file"
              + (value("AWS_CONFIG_FILE").isPresent() ? " AWS_CONFIG_FILE names" : "")
              + ") cannot be read: "
              + e.getMessage(),
          e);
    }
  }

  /** {@code AWS_CONFIG_FILE}, else {@code $HOME/.aws/config}; null without either. */
  private @Nullable Path configFile() {
    Optional<String> named = value("AWS_CONFIG_FILE");
    if (named.isPresent()) {
      return Path.of(expandHome(named.get()));
    }
    return value("HOME").map(home -> Path.of(home, ".aws", "config")).orElse(null);
  }

  private String expandHome(String path) {
    if (path.startsWith("~/") && value("HOME").isPresent()) {
      return value("HOME").get() + path.substring(1);
    }
    return path;
  }

  private Optional<String> value(String name) {
    return Optional.ofNullable(env.get(name)).map(String::strip).filter(v -> !v.isEmpty());
  }
}
