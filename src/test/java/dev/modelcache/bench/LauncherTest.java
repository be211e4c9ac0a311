package dev.modelcache.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LauncherTest {
  @TempDir Path tmp;

  @Test
  void runsTheRepositorysLauncherFromAHomeWhoseJarIsTheBuiltOne() throws IOException {
    List<String> command = Launcher.command(tmp, "serve", "-c", "x.yaml");
    Path script = Path.of(command.get(0));
    assertThat(command.subList(1, command.size())).containsExactly("serve", "-c", "x.yaml");
    assertThat(script).isEqualTo(tmp.toAbsolutePath().resolve("launcher/bin/modelcache"));
    // The launcher takes $home/modelcache.jar, home being its bin/'s parent: both are links.
    assertThat(Files.readSymbolicLink(script))
        .isEqualTo(Path.of("docker/modelcache").toAbsolutePath());
    assertThat(Files.readSymbolicLink(script.getParent().resolveSibling("modelcache.jar")))
        .isEqualTo(Path.of("target/modelcache.jar").toAbsolutePath());
    // Again in the same folder (a second daemon of the same bench): the links are replaced.
    assertThat(Launcher.command(tmp, "serve")).startsWith(script.toString());
  }

  @Test
  void readsTheLaunchersJvmFlagsWithItsMemoryDefaults() {
    assertThat(Launcher.flags())
        .contains(
            "-XX:MaxRAMPercentage=50",
            "-XX:+UseSerialGC",
            "-Xms32m",
            "-XX:TrimNativeHeapInterval=5000",
            "-XX:+ExitOnOutOfMemoryError",
            "-Dai.djl.offline=true")
        .allMatch(flag -> flag.startsWith("-X") || flag.startsWith("-D"));
  }

  @Test
  void theInferenceBenchsDaemonStartsThroughTheLauncherWithItsFlags() throws Exception {
    assumeTrue(
        Files.isRegularFile(Path.of("target/modelcache.jar")),
        "needs target/modelcache.jar (mvn -Pquick package)");
    try (InferenceBench.Daemon daemon =
        InferenceBench.Daemon.start(
            tmp, "launcher", Path.of("models/iris").toAbsolutePath(), 1, 1, 0)) {
      // The process is the launcher's exec of java: its command line has the launcher's flags.
      String commandLine =
          Files.readString(Path.of("/proc", Long.toString(daemon.process().pid()), "cmdline"))
              .replace('\0', ' ');
      assertThat(commandLine).contains("-XX:+UseSerialGC", "-Xms32m", "modelcache.jar serve");
      assertThat(daemon.rssKib()).isPositive();
    }
  }
}
