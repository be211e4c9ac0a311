package dev.modelcache.cli;

import dev.modelcache.config.ConfigException;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.ScopeType;

/**
 * The {@code modelcache} command. With no subcommand it serves.
 *
 * <pre>
 * java -jar target/modelcache.jar                       # serve the embedded default (demo models)
 * java -jar target/modelcache.jar fetch -c my.yaml      # init-container mode
 * </pre>
 */
@Command(
    name = "modelcache",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    // Every subcommand inherits --help, -h, --version and -V.
    scope = ScopeType.INHERIT,
    description = "Fetch, verify, pin and serve ML models from a shared volume.",
    subcommands = {
      ServeCommand.class,
      FetchCommand.class,
      VerifyCommand.class,
      ListCommand.class,
      LockCommand.class,
      GcCommand.class,
      EngineCommand.class,
      MirrorCommand.class,
      ConfigCommand.class,
      CompletionCommand.class,
      HelpCommand.class
    })
public final class Main {
  private static final Set<String> TOP_LEVEL = Set.of("-h", "--help", "-V", "--version", "help");

  public static void main(String[] args) {
    System.exit(
        run(
            new PrintWriter(System.out, true, Charset.defaultCharset()),
            new PrintWriter(System.err, true, Charset.defaultCharset()),
            args));
  }

  /**
   * Runs the command line and returns the exit code: 0 success, 1 failure, 2 bad usage or config.
   */
  static int run(PrintWriter out, PrintWriter err, String... args) {
    // DJL must never download anything: the natives come from the jar.
    System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
    if (args.length == 0 || (args[0].startsWith("-") && !TOP_LEVEL.contains(args[0]))) {
      String[] withServe = new String[args.length + 1];
      withServe[0] = "serve";
      System.arraycopy(args, 0, withServe, 1, args.length);
      args = withServe;
    }
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          if (e instanceof ConfigException) {
            commandLine.getErr().println("modelcache: " + e.getMessage());
            commandLine.getErr().flush();
            return 2;
          }
          throw e;
        });
    return cli.execute(args);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = Main.class.getPackage().getImplementationVersion();
      return new String[] {"modelcache " + (version == null ? "dev" : version)};
    }
  }
}
