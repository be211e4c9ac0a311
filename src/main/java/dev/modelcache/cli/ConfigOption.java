package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** The {@code --config} option every command shares. */
final class ConfigOption {
  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description =
          "YAML config file (default: $MODELCACHE_CONFIG, else the embedded default: the demo models of"
              + " ./models cached in ./data)")
  @Nullable Path file;

  /**
   * The config's {@code modelcache.lock} (empty when there is none); a broken one stops the
   * command.
   */
  static dev.modelcache.store.Lockfile lockfile(Config config) {
    try {
      return dev.modelcache.store.Lockfile.read(config.lockfile());
    } catch (java.io.IOException e) {
      throw new dev.modelcache.config.ConfigException(String.valueOf(e.getMessage()), e);
    }
  }

  /**
   * The config's {@code modelcache.lock} with the verdict on its signature ({@code verification:});
   * a broken lockfile or an unreadable trusted key stops the command.
   */
  static dev.modelcache.store.SignedLock signedLock(Config config) {
    try {
      return dev.modelcache.store.SignedLock.read(config.lockfile(), config.verification());
    } catch (java.io.IOException e) {
      throw new dev.modelcache.config.ConfigException(String.valueOf(e.getMessage()), e);
    }
  }

  Config load() {
    return new ConfigLoader(System.getenv(), Path.of("")).load(file);
  }
}
