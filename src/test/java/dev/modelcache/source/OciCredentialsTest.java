package dev.modelcache.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.modelcache.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A credential helper that never answers (one waiting on a locked keychain or a prompt): the lookup
 * gives up after the helper's wait, says what to do, and leaves no process of it behind. The
 * helpers that answer, fail or know no login are tested against a real registry in {@code
 * OciLoginTest}.
 */
class OciCredentialsTest {
  private static final String REGISTRY = "registry.example:5000";

  @TempDir Path tmp;

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void aHelperThatNeverAnswersIsStoppedWithItsChildrenAndNamedWithWhatToDo() throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    Path pids = tmp.resolve("pids");
    // the script's own pid, then a child's that would outlive it: `sleep` under `sh`, not exec'd
    Path script =
        Files.writeString(
            bin.resolve("docker-credential-stuck"),
            "#!/bin/sh\nread -r reg\nsleep 600 &\necho \"$$ $!\" > "
                + pids
                + ".tmp\nmv "
                + pids
                + ".tmp "
                + pids
                + "\nwait\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path config =
        Files.writeString(
            tmp.resolve("config.json"), "{\"credHelpers\": {\"" + REGISTRY + "\": \"stuck\"}}");
    OciCredentials credentials =
        new OciCredentials(config, Map.of("PATH", bin + ":/usr/bin:/bin"), Duration.ofSeconds(1));

    Throwable thrown = catchThrowable(() -> credentials.lookup(REGISTRY));

    assertThat(thrown)
        .isInstanceOf(SourceException.class)
        .hasMessage(
            "the credential helper docker-credential-stuck did not answer for "
                + REGISTRY
                + " within 1 s and was stopped: check that 'echo "
                + REGISTRY
                + " | docker-credential-stuck get' answers without asking anything (no prompt, no"
                + " unlocked keychain needed), or put the login in Docker's config.json auths");
    assertThat(pids).as("the helper ran").exists();
    for (String pid : Files.readString(pids).trim().split(" ")) {
      Poll.until(
          Duration.ofSeconds(10),
          Duration.ofMillis(20),
          "process " + pid + " of the helper to end",
          () -> ProcessHandle.of(Long.parseLong(pid)).filter(ProcessHandle::isAlive).isEmpty());
    }
  }
}
