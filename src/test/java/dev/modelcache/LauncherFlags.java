package dev.modelcache;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JVM flags of the launcher ({@code docker/modelcache}, the image's {@code bin/modelcache}):
 * its lines that are {@code -X} or {@code -D} flags. A test that must run the JVM as users run it
 * (the heap's defaults under large requests) passes these to its child daemon.
 */
public final class LauncherFlags {
  /** The launcher script. */
  public static final Path SCRIPT = Path.of("docker/modelcache");

  private LauncherFlags() {}

  /** The launcher's JVM flags, in its order. */
  public static List<String> of() {
    List<String> flags = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(SCRIPT)) {
        String flag = line.strip().replaceAll("\\s*\\\\$", "");
        if (flag.matches("-[XD]\\S+( -[XD]\\S+)*")) {
          flags.addAll(List.of(flag.split(" ")));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the launcher " + SCRIPT, e);
    }
    return flags;
  }
}
