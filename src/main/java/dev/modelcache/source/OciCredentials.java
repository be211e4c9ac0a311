package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Secret;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A registry's credentials from Docker's {@code config.json}, as {@code docker login} leaves them:
 * an {@code auths} entry ({@code auth}, the base64 of {@code user:password}, or {@code
 * username}/{@code password}), else the credential helper that {@code credHelpers} names for the
 * registry or {@code credsStore} names for all, run as {@code docker-credential-{name} get} (found
 * on the {@code PATH}) with the registry on its input. A helper that exits non-zero saying
 * "credentials not found" knows no login for the registry; any other failure fails the lookup,
 * naming the helper. The file is read at each lookup (a {@code docker login} since start is seen);
 * nothing of it, nor of a helper's answer, is ever logged or put in a message.
 */
final class OciCredentials {
  /** How long a credential helper may take to answer before it is killed. */
  static final Duration HELPER_WAIT = Duration.ofSeconds(30);

  private static final Pattern PATH_SEPARATOR =
      Pattern.compile(Pattern.quote(java.io.File.pathSeparator));

  /** A user name and its password (or token). */
  record Login(String user, Secret password) {}

  private final @Nullable Path dockerConfig;
  private final @Nullable String path;
  private final Duration helperWait;
  private final ObjectMapper json = new ObjectMapper();

  /**
   * @param dockerConfig Docker's {@code config.json}, or null when there is none
   * @param env the environment whose {@code PATH} credential helpers are looked up on
   */
  OciCredentials(@Nullable Path dockerConfig, Map<String, String> env) {
    this(dockerConfig, env, HELPER_WAIT);
  }

  /**
   * @param helperWait how long a credential helper may take to answer ({@link #HELPER_WAIT} but in
   *     tests)
   */
  OciCredentials(@Nullable Path dockerConfig, Map<String, String> env, Duration helperWait) {
    this.dockerConfig = dockerConfig;
    this.path = env.get("PATH");
    this.helperWait = helperWait;
  }

  /** Where the credentials come from, for messages. */
  String origin() {
    return dockerConfig == null ? "Docker's config.json (none found)" : dockerConfig.toString();
  }

  /** The login for {@code registry} ({@code host[:port]}), or null when the config has none. */
  @Nullable Login lookup(String registry) throws SourceException {
    if (dockerConfig == null) {
      return null;
    }
    JsonNode config;
    try {
      config = json.readTree(dockerConfig.toFile());
    } catch (IOException e) {
      throw new SourceException(
          dockerConfig
              + " cannot be read as Docker's config.json ("
              + e.getClass().getSimpleName()
              + "): fix it, or point sources.oci.docker_config at another");
    }
    JsonNode entry = entry(config.path("auths"), registry);
    if (entry != null) {
      Login login = fromEntry(entry, registry);
      if (login != null) {
        return login;
      }
    }
    JsonNode helper = entry(config.path("credHelpers"), registry);
    String name = helper != null ? helper.asText() : config.path("credsStore").asText("");
    return name.isBlank() ? null : helper(name, registry);
  }

  /**
   * The value of {@code map} whose key names {@code registry} ({@code https://} and paths aside).
   */
  private static @Nullable JsonNode entry(JsonNode map, String registry) {
    for (Map.Entry<String, JsonNode> field : map.properties()) {
      if (hostOf(field.getKey()).equals(registry.toLowerCase(Locale.ROOT))
          || (isDockerHub(registry) && isDockerHub(hostOf(field.getKey())))) {
        return field.getValue();
      }
    }
    return null;
  }

  private static String hostOf(String key) {
    String host = key.replaceFirst("^[a-zA-Z]+://", "");
    int slash = host.indexOf('/');
    return (slash < 0 ? host : host.substring(0, slash)).toLowerCase(Locale.ROOT);
  }

  private static boolean isDockerHub(String host) {
    return host.equals("docker.io")
        || host.equals("index.docker.io")
        || host.equals("registry-1.docker.io");
  }

  private static @Nullable Login fromEntry(JsonNode entry, String registry) throws SourceException {
    String auth = entry.path("auth").asText("");
    if (!auth.isBlank()) {
      String decoded;
      try {
        decoded = new String(Base64.getDecoder().decode(auth.strip()), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        decoded = "";
      }
      int colon = decoded.indexOf(':');
      if (colon <= 0) {
        throw new SourceException(
            "the auths entry of "
                + registry
                + " in Docker's config.json has an 'auth' that is not base64 of user:password: run"
                + " 'docker login "
                + registry
                + "' again");
      }
      Secret password = Secret.ofNullable(decoded.substring(colon + 1));
      return password == null ? null : new Login(decoded.substring(0, colon), password);
    }
    Secret password = Secret.ofNullable(entry.path("password").asText(null));
    String user = entry.path("username").asText("");
    if (password != null && !user.isBlank()) {
      return new Login(user, password);
    }
    if (!entry.path("identitytoken").asText("").isBlank()) {
      throw new SourceException(
          "the auths entry of "
              + registry
              + " in Docker's config.json holds an identity token, which modelcache does not"
              + " exchange: log in with a user name and password (or a registry token) instead");
    }
    return null;
  }

  /** Runs {@code docker-credential-{name} get}; null when it knows no credentials for it. */
  private @Nullable Login helper(String name, String registry) throws SourceException {
    String program = "docker-credential-" + name;
    if (!name.matches("[A-Za-z0-9._-]+")) {
      throw new SourceException("Docker's config.json names an invalid credential helper");
    }
    Path executable = onPath(program);
    if (executable == null) {
      throw new SourceException(
          "Docker's config.json names the credential helper "
              + program
              + " for "
              + registry
              + ", which is not on the PATH: install it there, or put the login in the config's"
              + " auths");
    }
    byte[] answer = ask(executable, program, registry);
    if (answer == null) {
      return null; // the registry is then asked without a login
    }
    try {
      JsonNode login = json.readTree(answer);
      Secret secret = Secret.ofNullable(login.path("Secret").asText(null));
      String user = login.path("Username").asText("");
      if (secret == null || user.equals("<token>")) {
        return null; // an identity token, which modelcache does not exchange
      }
      return new Login(user, secret);
    } catch (IOException e) {
      throw new SourceException(
          program
              + " get gave no usable answer for "
              + registry
              + " ("
              + e.getClass().getSimpleName()
              + "): it must print {\"Username\": ..., \"Secret\": ...}");
    }
  }

  /**
   * What {@code executable get} prints for {@code registry}; null when it says "credentials not
   * found". Its error output is discarded: it may quote what it was given.
   */
  private byte @Nullable [] ask(Path executable, String program, String registry)
      throws SourceException {
    Process process;
    try {
      process =
          new ProcessBuilder(executable.toString(), "get")
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
    } catch (IOException e) {
      throw new SourceException(
          "the credential helper "
              + executable
              + " for "
              + registry
              + " cannot be run ("
              + e.getClass().getSimpleName()
              + "): check that it is executable, or put the login in Docker's config.json auths");
    }
    try (InputStream out = process.getInputStream()) {
      try (OutputStream in = process.getOutputStream()) {
        in.write(registry.getBytes(StandardCharsets.UTF_8));
      }
      // an answer is a few hundred bytes, well within a pipe's buffer: wait, then read it
      if (!process.waitFor(helperWait.toMillis(), TimeUnit.MILLISECONDS)) {
        throw silent(program, registry);
      }
      byte[] answer = out.readNBytes(1 << 16);
      if (process.exitValue() == 0) {
        return answer;
      }
      if (new String(answer, StandardCharsets.UTF_8)
          .toLowerCase(Locale.ROOT)
          .contains("credentials not found")) {
        return null;
      }
      throw new SourceException(
          "the credential helper "
              + program
              + " failed for "
              + registry
              + " (exit "
              + process.exitValue()
              + "): check that 'echo "
              + registry
              + " | "
              + program
              + " get' prints the login, or run 'docker login "
              + registry
              + "' again");
    } catch (SourceException e) {
      throw e;
    } catch (IOException e) {
      throw new SourceException(
          program + " get failed for " + registry + ": " + e.getClass().getSimpleName());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SourceException("interrupted while " + program + " looked up " + registry);
    } finally {
      // a helper script's own children too (a `sleep` under `sh` outlives its parent)
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
  }

  private SourceException silent(String program, String registry) {
    return new SourceException(
        "the credential helper "
            + program
            + " did not answer for "
            + registry
            + " within "
            + helperWait.toSeconds()
            + " s and was stopped: check that 'echo "
            + registry
            + " | "
            + program
            + " get' answers without asking anything (no prompt, no unlocked keychain needed),"
            + " or put the login in Docker's config.json auths");
  }

  /** The first executable {@code program} in the folders of {@link #path}, or null. */
  private @Nullable Path onPath(String program) {
    if (path == null) {
      return null;
    }
    for (String dir : PATH_SEPARATOR.split(path, -1)) {
      if (!dir.isEmpty()) {
        try {
          Path candidate = Path.of(dir, program);
          if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
            return candidate;
          }
        } catch (java.nio.file.InvalidPathException e) {
          // not a folder: the next one
        }
      }
    }
    return null;
  }
}
