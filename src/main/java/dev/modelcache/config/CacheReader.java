package dev.modelcache.config;

import dev.modelcache.config.Config.CacheConfig;
import dev.modelcache.config.Config.VerifyMode;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads {@code cache:}: where the cache is ({@code cache.dir}, else the Hub cache that {@code
 * HF_HUB_CACHE} or {@code HF_HOME} names, else {@value #DEFAULT_CACHE_DIR}), offline, verify and
 * max_bytes.
 */
final class CacheReader {
  /** The loader's logger: every line about the config comes from one logger. */
  private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);

  /** {@code cache.dir} when neither it, MODELCACHE_CACHE_DIR, HF_HUB_CACHE nor HF_HOME is set. */
  static final String DEFAULT_CACHE_DIR = "/models";

  /** Folders of the cache root that the Hub cache cannot be. */
  private static final Set<String> RESERVED_CACHE_NAMES =
      Set.of(".modelcache", "local", "oci", "s3", "gcs", "url", "azure");

  private final Map<String, String> env;
  private final Path workDir;

  CacheReader(Map<String, String> env, Path workDir) {
    this.env = env;
    this.workDir = workDir;
  }

  CacheConfig read(ConfigNode node, Path baseDir) {
    boolean hfOffline = truthy(env.get("HF_HUB_OFFLINE"));
    String dirSetting = node.string("dir");
    Path cacheDir;
    Path hubDir;
    if (dirSetting != null) {
      cacheDir = baseDir.resolve(dirSetting).normalize();
      hubDir = cacheDir.resolve("hub");
      warnIfTheHubCacheDiffers(hubDir);
    } else {
      hubDir = hfHubCache();
      cacheDir =
          hubDir == null
              ? Path.of(DEFAULT_CACHE_DIR)
              : Objects.requireNonNull(hubDir.getParent(), "hfHubCache() checked the parent");
      hubDir = hubDir == null ? cacheDir.resolve("hub") : hubDir;
    }
    CacheConfig cache =
        new CacheConfig(
            cacheDir,
            hubDir,
            node.bool("offline", false) || hfOffline,
            node.choice("verify", VerifyMode.FAST, VerifyMode.class),
            node.bytes("max_bytes", 0));
    node.finish();
    return cache;
  }

  /**
   * The Hub cache that huggingface_hub would use, when the environment names one: {@code
   * HF_HUB_CACHE}, else {@code $HF_HOME/hub}, {@code ~} expanded and relative paths taken from the
   * working directory as Python does; null when neither is set. Its parent becomes the cache root.
   */
  private @Nullable Path hfHubCache() {
    String variable;
    String value;
    String hubCache = env.get("HF_HUB_CACHE");
    String hfHome = env.get("HF_HOME");
    if (hubCache != null && !hubCache.isBlank()) {
      variable = "HF_HUB_CACHE";
      value = hubCache;
    } else if (hfHome != null && !hfHome.isBlank()) {
      variable = "HF_HOME";
      value = hfHome;
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
              + " .modelcache/, local/, oci/, s3/, gcs/ and url/): set cache.dir or MODELCACHE_CACHE_DIR, or point "
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

  private static boolean blank(@Nullable String value) {
    return value == null || value.isBlank();
  }

  private static boolean truthy(@Nullable String value) {
    return value != null
        && Set.of("1", "true", "yes", "on").contains(value.strip().toLowerCase(Locale.ROOT));
  }
}
