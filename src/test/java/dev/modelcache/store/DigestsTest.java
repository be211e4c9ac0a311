package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DigestsTest {
  // sha256sum and git hash-object of "hello\n"
  private static final String HELLO_SHA256 =
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  private static final String HELLO_GIT_SHA1 = "ce013625030ba8dba906f756967f9e9ca394464a";

  @TempDir Path dir;

  @Test
  void hashesAFileAndATextAlike() throws Exception {
    Path file = Files.writeString(dir.resolve("hello"), "hello\n", StandardCharsets.UTF_8);
    assertThat(Digests.sha256Hex(file)).isEqualTo(HELLO_SHA256);
    assertThat(Digests.sha256Hex("hello\n")).isEqualTo(HELLO_SHA256);
  }

  @Test
  void hashesAFileLargerThanTheReadBuffer() throws Exception {
    byte[] bytes = new byte[(1 << 18) * 3 + 17];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i * 31);
    }
    Path file = Files.write(dir.resolve("big"), bytes);
    assertThat(Digests.sha256Hex(file)).isEqualTo(Digests.hex(updated(Digests.sha256(), bytes)));
  }

  @Test
  void gitBlobSha1IsTheIdGitGivesTheFile() {
    byte[] hello = "hello\n".getBytes(StandardCharsets.UTF_8);
    assertThat(Digests.hex(updated(Digests.gitBlobSha1(hello.length), hello)))
        .isEqualTo(HELLO_GIT_SHA1);
  }

  private static java.security.MessageDigest updated(java.security.MessageDigest d, byte[] b) {
    d.update(b);
    return d;
  }
}
