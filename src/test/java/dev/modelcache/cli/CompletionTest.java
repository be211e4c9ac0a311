package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code modelcache completion}: a bash completion script that bash accepts and that completes. */
class CompletionTest {
  @TempDir Path tmp;

  private static String bash(String... args) throws Exception {
    Process process =
        new ProcessBuilder(List.of(args).isEmpty() ? List.of("bash") : concat(args))
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor()).as(output).isZero();
    return output;
  }

  private static List<String> concat(String... args) {
    return java.util.stream.Stream.concat(
            java.util.stream.Stream.of("bash"), List.of(args).stream())
        .toList();
  }

  // compopt is stubbed: it works only while bash itself runs a completion.
  @Test
  void printsABashScriptThatParsesAndCompletesCommandsAndOptions() throws Exception {
    CliRun run = CliRun.of("completion");
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.err()).isEmpty();
    Path script = Files.writeString(tmp.resolve("modelcache.bash"), run.out());
    bash("-n", script.toString());

    String commands =
        bash(
            "-c",
            "source \"$1\"; COMP_WORDS=(modelcache f); COMP_CWORD=1; _complete_modelcache;"
                + " echo \"${COMPREPLY[@]}\"",
            "test",
            script.toString());
    assertThat(commands.strip()).isEqualTo("fetch");
    String options =
        bash(
            "-c",
            "source \"$1\"; compopt() { :; }; COMP_WORDS=(modelcache verify --j); COMP_CWORD=2;"
                + " _complete_modelcache; echo \"${COMPREPLY[@]}\"",
            "test",
            script.toString());
    assertThat(options.strip()).isEqualTo("--json");
  }
}
