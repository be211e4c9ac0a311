package dev.modelcache.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.ChildJvm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code modelcache serve} in a child JVM on the test classpath, with JSON logs: the process the
 * operator runs, signals and exit code included. Its stderr lines are collected as they come, and
 * waits on them are bounded.
 *
 * <pre>{@code
 * try (ChildDaemon child = ChildDaemon.start(config, Map.of("MODELCACHE_TOKEN", "t"))) {
 *   child.awaitReady(Duration.ofSeconds(60));
 *   // HTTP on child.port()
 * }
 * }</pre>
 */
final class ChildDaemon implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern LISTENING = Pattern.compile("HTTP listening on [^:]+:(\\d+)");
  private static final Pattern GRPC_LISTENING = Pattern.compile("gRPC listening on [^:]+:(\\d+)");

  private final Process process;
  private final List<String> lines = new ArrayList<>(); // guarded by itself
  private final Thread reader;
  private boolean ended; // guarded by lines

  /** Whether {@code env} can reset a signal (GNU coreutils 8.31 and later). */
  private static final boolean ENV_RESETS_SIGNALS = envResetsSignals();

  private static boolean envResetsSignals() {
    try {
      Process env =
          new ProcessBuilder("env", "--default-signal=HUP", "true")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      return env.waitFor(10, TimeUnit.SECONDS) && env.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private ChildDaemon(Process process) {
    this.process = process;
    this.reader = new Thread(this::read, "child-daemon-stderr");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts {@code modelcache serve -c config} with LOG_FORMAT=json and {@code env} added (and no
   * MODELCACHE_ or AWS_ variable of this process).
   */
  static ChildDaemon start(Path config, Map<String, String> env) throws IOException {
    return start(config, env, List.of());
  }

  /**
   * The same with JVM options added after the default {@code -Xmx512m} (a later {@code -Xmx} wins):
   * {@code List.of("-Xmx1g", "-XX:+ExitOnOutOfMemoryError")} is the image's JVM in a 2 GiB
   * container.
   */
  static ChildDaemon start(Path config, Map<String, String> env, List<String> jvmOptions)
      throws IOException {
    List<String> command = new ArrayList<>();
    // SIGHUP at its default in the child even when this JVM ignores it (a build under nohup):
    // the JVM keeps a signal ignored at its start ignored, and the reload tests send SIGHUP
    if (ENV_RESETS_SIGNALS) {
      command.addAll(List.of("env", "--default-signal=HUP"));
    }
    command.addAll(ChildJvm.java());
    command.add("-Xmx512m");
    command.addAll(jvmOptions);
    command.add("-Dai.djl.offline=true");
    if (Runtime.version().feature() >= 22) {
      // DJL loads native code; from Java 22 the JVM warns on stderr unless this is allowed
      command.add("--enable-native-access=ALL-UNNAMED");
    }
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            "dev.modelcache.cli.Main",
            "serve",
            "-c",
            config.toString()));
    ProcessBuilder builder = new ProcessBuilder(command);
    // hermetic: none of the caller's MODELCACHE_ or AWS_ variables (credentials, profile,
    // endpoints)
    builder
        .environment()
        .keySet()
        .removeIf(name -> name.startsWith("MODELCACHE_") || name.startsWith("AWS_"));
    builder.environment().putAll(env);
    return start(builder);
  }

  /**
   * Starts any command that ends in {@code modelcache serve} (the image's entry point, say), with
   * LOG_FORMAT=json.
   */
  static ChildDaemon start(ProcessBuilder builder) throws IOException {
    builder.environment().put("LOG_FORMAT", "json");
    builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    return new ChildDaemon(builder.start());
  }

  private void read() {
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        synchronized (lines) {
          lines.add(line);
          lines.notifyAll();
        }
      }
    } catch (IOException e) {
      // the process went away: what was read stays
    } finally {
      synchronized (lines) {
        ended = true;
        lines.notifyAll();
      }
    }
  }

  Process process() {
    return process;
  }

  /**
   * Sends SIGTERM. Through the {@link ProcessHandle}: {@link Process#destroy()} sends the same
   * signal but also closes our end of the child's stderr, losing the lines of its shutdown.
   */
  void sigterm() {
    process.toHandle().destroy();
  }

  /** Every stderr line so far. */
  List<String> lines() {
    synchronized (lines) {
      return List.copyOf(lines);
    }
  }

  /** The first stderr line whose JSON {@code message} matches, waiting up to {@code timeout}. */
  JsonNode awaitMessage(Predicate<String> message, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int seen = 0;
    synchronized (lines) {
      while (true) {
        for (; seen < lines.size(); seen++) {
          JsonNode node = parse(lines.get(seen));
          if (node != null && message.test(node.path("message").asText())) {
            return node;
          }
        }
        long left = deadline - System.nanoTime();
        if (ended || left <= 0) {
          throw new AssertionError(
              (ended
                      ? "the daemon ended" + exitDescription()
                      : "no such log line within " + timeout)
                  + "; its stderr ("
                  + lines.size()
                  + " lines, the last 30):\n"
                  + String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())));
        }
        TimeUnit.NANOSECONDS.timedWait(lines, left);
      }
    }
  }

  /** Waits for the log line that says every required model is READY; returns the HTTP port. */
  int awaitReady(Duration timeout) throws InterruptedException {
    awaitMessage(m -> m.endsWith("readiness is UP"), timeout);
    return port();
  }

  int port() throws InterruptedException {
    return port(LISTENING);
  }

  /** The gRPC port (with {@code server.grpc.enabled}), from its listening line. */
  int grpcPort() throws InterruptedException {
    return port(GRPC_LISTENING);
  }

  private int port(Pattern listening) throws InterruptedException {
    Matcher matcher =
        listening.matcher(
            awaitMessage(m -> listening.matcher(m).find(), Duration.ofSeconds(30))
                .path("message")
                .asText());
    if (!matcher.find()) {
      throw new IllegalStateException("no port in the listening line");
    }
    return Integer.parseInt(matcher.group(1));
  }

  /** Waits for the process to end and for its stderr to be read; returns the exit code. */
  int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(
          "the daemon did not exit within "
              + timeout
              + "; its stderr:\n"
              + String.join("\n", lines()));
    }
    reader.join(timeout.toMillis());
    return process.exitValue();
  }

  private String exitDescription() throws InterruptedException {
    return process.waitFor(5, TimeUnit.SECONDS) ? " with exit code " + process.exitValue() : "";
  }

  static JsonNode parse(String line) {
    try {
      return JSON.readTree(line);
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * Writes the child's stderr so far to {@code target/child-daemons/PID.log}, for the reader of a
   * failed run (the surefire report holds only this JVM's output).
   */
  private void keepLog() {
    try {
      Path dir = Files.createDirectories(Path.of("target", "child-daemons"));
      Files.write(dir.resolve(process.pid() + ".log"), lines(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      // a log for a human only: the test's own result stands
    }
  }

  /**
   * Stops the child with SIGTERM (its graceful stop, which also lets JaCoCo's agent in it write its
   * coverage), and with SIGKILL if it has not exited within 30 s.
   */
  @Override
  public void close() {
    keepLog();
    try {
      if (process.isAlive()) {
        sigterm();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
