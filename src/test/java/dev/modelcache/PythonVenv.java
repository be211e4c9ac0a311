package dev.modelcache;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A Python virtualenv under {@code target/<name>-venv} with the given packages from the machine's
 * package index, built once per JVM (or reused when its import check passes), so tests can drive
 * the ecosystem's real Python clients (huggingface_hub, openai, tritonclient, grpcio) against a
 * live daemon. Tests skip with {@link #reason()} where Python, venv, pip or the index is missing.
 *
 * <pre>{@code
 * PythonVenv venv = PythonVenv.of("openai", "import openai; print(openai.__version__)", "openai");
 * Optional<Path> python = venv.python();
 * Assumptions.assumeTrue(python.isPresent(), venv::reason);
 * PythonVenv.Result r = PythonVenv.run(python.get(), script, Map.of(), Duration.ofSeconds(60));
 * }</pre>
 */
public final class PythonVenv {
  private static final Duration VENV_TIMEOUT = Duration.ofSeconds(120);
  private static final Duration INSTALL_TIMEOUT = Duration.ofSeconds(240);
  private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(60);
  private static final Map<String, PythonVenv> VENVS = new ConcurrentHashMap<>();

  private final String name;
  private final String importCheck;
  private final List<String> packages;
  private boolean tried; // guarded by this
  private Path python; // guarded by this
  private String version = ""; // guarded by this
  private String reason = "not tried yet"; // guarded by this

  private PythonVenv(String name, String importCheck, List<String> packages) {
    this.name = name;
    this.importCheck = importCheck;
    this.packages = packages;
  }

  /**
   * The venv named {@code name} (one per name per JVM): {@code importCheck} is a Python snippet
   * that prints a version on its last line once {@code packages} are installed.
   */
  public static PythonVenv of(String name, String importCheck, String... packages) {
    return VENVS.computeIfAbsent(
        name, n -> new PythonVenv(n, importCheck, List.copyOf(List.of(packages))));
  }

  /** The output of a finished process; {@code timedOut} when it was killed at its limit. */
  public record Result(int exitCode, boolean timedOut, String output) {
    public boolean ok() {
      return !timedOut && exitCode == 0;
    }
  }

  /** The venv's python with the packages importable, or empty (then see {@link #reason()}). */
  public synchronized Optional<Path> python() {
    if (!tried) {
      tried = true;
      try {
        python = setUp();
        reason = "";
      } catch (IOException e) {
        reason = e.getMessage();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        reason = "interrupted while setting up " + venvDir();
      }
    }
    return Optional.ofNullable(python);
  }

  /** Why {@link #python()} is empty; "" when it is not. */
  public synchronized String reason() {
    return reason;
  }

  /** The last line the import check printed (a version); "" when unavailable. */
  public synchronized String version() {
    return version;
  }

  /**
   * Runs {@code script} with {@code python}. The environment is this JVM's less every {@code
   * HF_*}/{@code HUGGING_FACE_*}/{@code OPENAI_*} variable and every proxy variable (a proxy would
   * take the loopback requests away from the server under test), plus {@code env}.
   */
  public static Result run(Path python, String script, Map<String, String> env, Duration timeout)
      throws IOException, InterruptedException {
    Path file = Files.createTempFile("py-script-", ".py");
    try {
      Files.writeString(file, script);
      ProcessBuilder builder = new ProcessBuilder(python.toString(), file.toString());
      builder.environment().keySet().removeIf(PythonVenv::isClientOrProxyVariable);
      builder.environment().put("NO_PROXY", "localhost,127.0.0.1");
      builder.environment().put("PYTHONUNBUFFERED", "1");
      builder.environment().putAll(env);
      return run(builder, timeout);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  private Path setUp() throws IOException, InterruptedException {
    Path venv = venvDir();
    Path venvPython = venv.resolve("bin/python");
    if (Files.isExecutable(venvPython)) {
      Result check =
          run(new ProcessBuilder(venvPython.toString(), "-c", importCheck), CHECK_TIMEOUT);
      if (check.ok()) {
        version = lastLine(check.output());
        return venvPython;
      }
    } else if (Files.exists(venv)) {
      deleteTree(venv); // a half-made venv from an interrupted run
    }
    if (!Files.isExecutable(venvPython)) {
      String base =
          Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
      Result made;
      try {
        made = run(new ProcessBuilder(base, "-m", "venv", venv.toString()), VENV_TIMEOUT);
      } catch (IOException e) {
        throw new IOException("no python3 to build " + venv + " with: " + e.getMessage(), e);
      }
      if (!made.ok()) {
        throw new IOException(
            base
                + " -m venv "
                + venv
                + " failed"
                + describe(made)
                + " (is python3-venv installed?)");
      }
    }
    List<String> command =
        new ArrayList<>(
            List.of(
                venvPython.toString(),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                // one index that cannot be reached must not cost minutes of retries
                "--retries",
                "0",
                "--timeout",
                "30"));
    command.addAll(packages);
    Result installed = run(new ProcessBuilder(command), INSTALL_TIMEOUT);
    if (!installed.ok()) {
      throw new IOException(
          "pip install " + String.join(" ", packages) + " failed" + describe(installed));
    }
    Result check = run(new ProcessBuilder(venvPython.toString(), "-c", importCheck), CHECK_TIMEOUT);
    if (!check.ok()) {
      throw new IOException(
          String.join(" ", packages) + " does not import after install" + describe(check));
    }
    version = lastLine(check.output());
    return venvPython;
  }

  private static Result run(ProcessBuilder builder, Duration timeout)
      throws IOException, InterruptedException {
    Path log = Files.createTempFile("py-process-", ".log");
    try {
      builder.redirectErrorStream(true).redirectOutput(log.toFile());
      Process process = builder.start();
      boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (!finished) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
      String output = new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
      return new Result(finished ? process.exitValue() : -1, !finished, output);
    } finally {
      Files.deleteIfExists(log);
    }
  }

  private static String describe(Result result) {
    String output = result.output().strip();
    if (output.length() > 2000) {
      output = "..." + output.substring(output.length() - 2000);
    }
    return (result.timedOut() ? " (timed out)" : " (exit " + result.exitCode() + ")")
        + (output.isEmpty() ? "" : ":\n" + output);
  }

  private static String lastLine(String output) {
    String[] lines = output.strip().split("\n");
    return lines[lines.length - 1].strip();
  }

  private static boolean isClientOrProxyVariable(String name) {
    String upper = name.toUpperCase(Locale.ROOT);
    return upper.startsWith("HF_")
        || upper.startsWith("HUGGING_FACE_")
        || upper.startsWith("OPENAI_")
        || upper.endsWith("_PROXY");
  }

  private Path venvDir() {
    return Path.of("target", name + "-venv").toAbsolutePath();
  }

  private static void deleteTree(Path root) throws IOException {
    List<Path> paths = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(root)) {
      walk.sorted(Comparator.reverseOrder()).forEach(paths::add);
    }
    for (Path path : paths) {
      Files.delete(path);
    }
  }
}
