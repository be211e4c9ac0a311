package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** The real {@code openssl} command, run in a folder; tests that need it skip without it. */
public final class OpenSsl {
  private final Path dir;

  public OpenSsl(Path dir) {
    this.dir = dir;
  }

  /** Skips the calling test when no {@code openssl} is on the PATH. */
  public static void assumeInstalled() {
    boolean found;
    try {
      Process process = new ProcessBuilder("openssl", "version").redirectErrorStream(true).start();
      process.getInputStream().readAllBytes();
      found = process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0;
    } catch (IOException e) {
      found = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      found = false;
    }
    Assumptions.assumeTrue(found, "the openssl command is not installed: cannot make test keys");
  }

  /** Runs {@code openssl args...} in the folder; returns its output, failing on a non-zero exit. */
  public String run(String... args) throws IOException, InterruptedException {
    List<String> command = new java.util.ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Process process =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(String.join(" ", command) + ": " + out).isZero();
    return out;
  }

  /**
   * An ECDSA P-256 key pair: {@code name.pem} (SEC1, as ecparam writes it) and {@code name.pub}.
   */
  public void ecKey(String name) throws IOException, InterruptedException {
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".pem");
    run("ec", "-in", name + ".pem", "-pubout", "-out", name + ".pub");
  }

  /** An Ed25519 key pair: {@code name.pem} (PKCS#8) and {@code name.pub}. */
  public void edKey(String name) throws IOException, InterruptedException {
    run("genpkey", "-algorithm", "ed25519", "-out", name + ".pem");
    run("pkey", "-in", name + ".pem", "-pubout", "-out", name + ".pub");
  }

  /** The key id modelcache shows: the SHA-256 of the DER public key, first 16 hex digits. */
  public String keyId(String name) throws IOException, InterruptedException {
    run("pkey", "-pubin", "-in", name + ".pub", "-outform", "DER", "-out", name + ".der");
    String out = run("dgst", "-sha256", "-r", name + ".der");
    return out.substring(0, 16);
  }
}
