package dev.modelcache.source.hub;

import dev.modelcache.PythonVenv;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The real Python {@code huggingface_hub} client in a virtualenv under {@code target/hf-venv} (a
 * {@link PythonVenv}), so tests can check the fake Hub and the cache layout against it. Tests skip
 * with {@link #reason()} where Python, venv, pip or a package index is missing.
 *
 * <pre>{@code
 * Optional<Path> python = PythonHub.python();
 * Assumptions.assumeTrue(python.isPresent(), PythonHub::reason);
 * PythonHub.Result r = PythonHub.run(python.get(), script, Map.of("HF_ENDPOINT", hub.endpoint()),
 *     Duration.ofSeconds(60));
 * }</pre>
 */
public final class PythonHub {
  private static final PythonVenv VENV =
      PythonVenv.of(
          "hf", "import huggingface_hub; print(huggingface_hub.__version__)", "huggingface_hub");

  private PythonHub() {}

  /** The output of a finished process; {@code timedOut} when it was killed at its limit. */
  public record Result(int exitCode, boolean timedOut, String output) {
    public boolean ok() {
      return !timedOut && exitCode == 0;
    }
  }

  /** The venv's python with huggingface_hub importable, or empty (then see {@link #reason()}). */
  public static Optional<Path> python() {
    return VENV.python();
  }

  /** Why {@link #python()} is empty; "" when it is not. */
  public static String reason() {
    return VENV.reason();
  }

  /** The installed {@code huggingface_hub.__version__}; "" when unavailable. */
  public static String version() {
    return VENV.version();
  }

  /** Runs {@code script} with the venv's python; see {@link PythonVenv#run}. */
  public static Result run(Path python, String script, Map<String, String> env, Duration timeout)
      throws IOException, InterruptedException {
    PythonVenv.Result r = PythonVenv.run(python, script, env, timeout);
    return new Result(r.exitCode(), r.timedOut(), r.output());
  }
}
