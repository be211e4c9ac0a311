package dev.modelcache.bench;

import dev.modelcache.LauncherFlags;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The daemon as users start it: {@code docker/modelcache} (the image's {@code bin/modelcache}, with
 * its JVM defaults) on {@code target/modelcache.jar}, so that what a bench measures is what the
 * image runs. The launcher takes the jar beside its {@code bin/}, so it runs from a home of
 * symbolic links under the bench's work folder. What the image adds and a bench here has not: the
 * class-data sharing archive (the image's build makes it) and the container's memory limit (the
 * heap's cap is {@code MaxRAMPercentage} of the host's memory here). {@code MODELCACHE_OPTS} in the
 * bench's environment reaches the daemon, as in the image.
 */
final class Launcher {
  static final Path SCRIPT = LauncherFlags.SCRIPT;

  private Launcher() {}

  /** {@code modelcache args...} through the launcher, its home under {@code work/launcher}. */
  static List<String> command(Path work, String... args) throws IOException {
    Path home = work.toAbsolutePath().resolve("launcher");
    Files.createDirectories(home.resolve("bin"));
    link(home.resolve("bin").resolve("modelcache"), SCRIPT);
    link(home.resolve("modelcache.jar"), Path.of("target", "modelcache.jar"));
    List<String> command = new ArrayList<>();
    command.add(home.resolve("bin").resolve("modelcache").toString());
    command.addAll(List.of(args));
    return command;
  }

  /** The JVM flags the launcher gives. */
  static List<String> flags() {
    return LauncherFlags.of();
  }

  private static void link(Path link, Path target) throws IOException {
    Files.deleteIfExists(link);
    Files.createSymbolicLink(link, target.toAbsolutePath());
  }
}
