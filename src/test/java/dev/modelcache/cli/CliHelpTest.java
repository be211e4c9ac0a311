package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every command answers {@code --help}, {@code -h}, {@code help <command>} and {@code --version}.
 */
class CliHelpTest {
  static final List<String> COMMANDS =
      List.of(
          "serve",
          "fetch",
          "verify",
          "list",
          "lock",
          "gc",
          "engine",
          "mirror",
          "config",
          "config check",
          "completion");

  private static CliRun run(String command, String... more) {
    List<String> args = new java.util.ArrayList<>(List.of(command.split(" ")));
    args.addAll(List.of(more));
    return CliRun.of(args.toArray(String[]::new));
  }

  @Test
  void everyCommandPrintsItsHelpAndExitsZero() {
    for (String command : COMMANDS) {
      for (String flag : List.of("--help", "-h")) {
        CliRun run = run(command, flag);
        assertThat(run.code()).as(command + " " + flag + ": " + run.err()).isZero();
        assertThat(run.err()).as(command + " " + flag).isEmpty();
        assertThat(run.out())
            .as(command + " " + flag)
            .startsWith("Usage: modelcache " + command + " ")
            .contains("-h, --help", "-V, --version");
      }
    }
  }

  @Test
  void helpCommandPrintsTheHelpOfTheCommandItNames() {
    for (String command : COMMANDS) {
      if (command.contains(" ")) {
        continue;
      }
      CliRun run = CliRun.of("help", command);
      assertThat(run.code()).as(command + ": " + run.err()).isZero();
      assertThat(run.out()).isEqualTo(CliRun.of(command, "--help").out());
    }
    CliRun top = CliRun.of("help");
    assertThat(top.code()).isZero();
    assertThat(top.out())
        .startsWith("Usage: modelcache ")
        .contains("help", "fetch", "verify", "config", "completion");
  }

  @Test
  void everyCommandPrintsTheVersion() {
    String version = CliRun.of("--version").out();
    assertThat(version).matches("modelcache \\S+\\R");
    for (String command : COMMANDS) {
      CliRun run = run(command, "--version");
      assertThat(run.code()).as(command + ": " + run.err()).isZero();
      assertThat(run.out()).as(command).isEqualTo(version);
      assertThat(run(command, "-V").out()).as(command).isEqualTo(version);
    }
  }

  @Test
  void anUnknownOptionSaysWhereToFindTheHelpAndExitsTwo() {
    CliRun run = CliRun.of("fetch", "--nope");
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.err())
        .startsWith("Unknown option: '--nope'")
        .contains("Usage: modelcache fetch ");
  }

  @Test
  void configWithoutASubcommandPrintsItsUsageAndExitsTwo() {
    CliRun run = CliRun.of("config");
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).startsWith("Usage: modelcache config ").contains("check");
  }
}
