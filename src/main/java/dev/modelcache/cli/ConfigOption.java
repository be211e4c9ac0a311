package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --config} option every command shares. */
final class ConfigOption {
  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description =
          "YAML config file (default: $MODELCACHE_CONFIG, else the embedded default: the demo models of"
              + " ./models cached in ./data)")
  Path file;

  Config load() {
    return new ConfigLoader(System.getenv(), Path.of("")).load(file);
  }
}
