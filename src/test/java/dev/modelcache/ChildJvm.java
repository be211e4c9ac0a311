package dev.modelcache;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The start of a child JVM's command line: this JVM's {@code java}, with JaCoCo's agent when this
 * JVM runs under it ({@code mvn verify}), so that what a child daemon runs counts in the coverage
 * report too. The agent appends to the same {@code jacoco.exec}, under a file lock, when the child
 * exits normally (a child killed with SIGKILL adds nothing).
 */
public final class ChildJvm {
  private ChildJvm() {}

  /** {@code [java, -javaagent:...jacoco...]}, or {@code [java]} when JaCoCo is off. */
  public static List<String> java() {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (argument.startsWith("-javaagent:") && argument.contains("jacoco")) {
        command.add(argument);
      }
    }
    return command;
  }
}
