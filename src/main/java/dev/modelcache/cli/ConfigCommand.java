package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigException;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code modelcache config}: commands about the config file itself. */
@Command(
    name = "config",
    description = "Commands about the config file itself (see 'modelcache config check --help').",
    subcommands = {ConfigCommand.Check.class})
final class ConfigCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return 2;
  }

  /**
   * {@code modelcache config check [-c FILE]}: every error of a config at once, each as {@code
   * FILE:LINE: message}, without touching the network or the cache.
   */
  @Command(
      name = "check",
      description =
          "Check a config as serve would read it (the file and the MODELCACHE_* variables) without"
              + " touching the network or the cache. Exit 0 with a one-line summary when it is"
              + " valid; 1 with every error, one per line as FILE:LINE: message, when it is not.")
  static final class Check implements Callable<Integer> {
    @Mixin ConfigOption config;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Map<String, String> env = System.getenv();
      Path file = config.file;
      if (file == null && env.get("MODELCACHE_CONFIG") != null) {
        file =
            env.get("MODELCACHE_CONFIG").isBlank() ? null : Path.of(env.get("MODELCACHE_CONFIG"));
      }
      ConfigCheck.Result result;
      String origin;
      if (file == null) {
        origin = ConfigLoader.EMBEDDED;
        try {
          result = new ConfigCheck.Result(new ConfigLoader(env, Path.of("")).load(null), List.of());
        } catch (ConfigException e) {
          result =
              new ConfigCheck.Result(null, List.of(new ConfigCheck.Problem(0, e.getMessage())));
        }
      } else {
        origin = file.toString();
        Path absolute = file.toAbsolutePath().normalize();
        String text;
        try {
          text = Files.readString(absolute, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
          err.println(file + ": config file not found (give --config a path to a YAML file)");
          err.flush();
          return 1;
        } catch (IOException e) {
          err.println(file + ": cannot read config file: " + e.getMessage());
          err.flush();
          return 1;
        }
        // A file that could be read is not the root: it has a parent folder.
        result =
            new ConfigCheck(env).check(text, origin, Objects.requireNonNull(absolute.getParent()));
      }
      if (result.problems().isEmpty()) {
        Config loaded = Objects.requireNonNull(result.config(), "no problems: it loaded");
        out.printf(
            "%s: valid: %d model%s (%s), cache %s, port %d%n",
            origin,
            loaded.models().size(),
            loaded.models().size() == 1 ? "" : "s",
            loaded.models().stream().map(ModelConfig::name).collect(Collectors.joining(", ")),
            loaded.cache().dir(),
            loaded.server().port());
        out.flush();
        return 0;
      }
      result.problems().forEach(p -> err.println(p.message()));
      err.printf(
          "%s: %d error%s; fix %s and run 'modelcache config check' again%n",
          origin,
          result.problems().size(),
          result.problems().size() == 1 ? "" : "s",
          result.problems().size() == 1 ? "it" : "them");
      err.flush();
      return 1;
    }
  }
}
