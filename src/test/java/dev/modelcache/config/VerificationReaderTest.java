package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.config.Config.PublicKeyConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code verification:}: keys inline, as files or from the environment; its mistakes named. */
class VerificationReaderTest {
  private static final String PEM =
      "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
          + "-----END PUBLIC KEY-----\n";

  @TempDir Path dir;

  private Config parse(String yaml, Map<String, String> env) {
    return new ConfigLoader(env, dir).parse(yaml, "test.yaml", dir);
  }

  @Test
  void readsKeysInlineAndFromFilesRelativeToTheConfig() throws Exception {
    Files.createDirectories(dir.resolve("keys"));
    Files.writeString(dir.resolve("keys/a.pub"), PEM);
    Config config =
        parse(
            "verification:\n  public_keys:\n    - keys/a.pub\n    - |\n      "
                + PEM.replace("\n", "\n      ")
                + "\n  require_signature: true\n",
            Map.of());
    assertThat(config.verification().requireSignature()).isTrue();
    assertThat(config.verification().publicKeys())
        .containsExactly(
            new PublicKeyConfig(dir.resolve("keys/a.pub").toString(), PEM),
            new PublicKeyConfig("verification.public_keys[1]", PEM.strip()));
    assertThat(config.describe())
        .contains(
            "verification.public_keys=["
                + dir.resolve("keys/a.pub")
                + ", verification.public_keys[1]] verification.require_signature=true");
    assertThat(parse("models: []\n", Map.of()).verification())
        .isEqualTo(Config.VerificationConfig.NONE);
  }

  @Test
  void readsKeyFilesAndTheRequirementFromTheEnvironment() throws Exception {
    Files.writeString(dir.resolve("a.pub"), PEM);
    Files.writeString(dir.resolve("b.pub"), PEM);
    Config config =
        parse(
            "models: []\n",
            Map.of(
                "MODELCACHE_VERIFICATION_PUBLIC_KEYS", "a.pub, b.pub",
                "MODELCACHE_VERIFICATION_REQUIRE_SIGNATURE", "true"));
    assertThat(config.verification().publicKeys())
        .extracting(PublicKeyConfig::origin)
        .containsExactly(dir.resolve("a.pub").toString(), dir.resolve("b.pub").toString());
    assertThat(config.verification().requireSignature()).isTrue();
  }

  @Test
  void namesEachMistake() throws Exception {
    assertThatThrownBy(() -> parse("verification:\n  require_signatures: true\n", Map.of()))
        .hasMessageStartingWith("test.yaml: unknown key 'verification.require_signatures'");
    assertThatThrownBy(() -> parse("verification:\n  require_signature: true\n", Map.of()))
        .hasMessage(
            "test.yaml: verification.require_signature is true but verification.public_keys names"
                + " no key: list the PEM public keys trusted to sign modelcache.lock");
    assertThatThrownBy(() -> parse("verification:\n  public_keys: [missing.pub]\n", Map.of()))
        .hasMessageStartingWith(
            "test.yaml: verification.public_keys[0] names "
                + dir.resolve("missing.pub")
                + ", which cannot be read: ");
    Files.writeString(dir.resolve("private.pem"), "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n");
    assertThatThrownBy(() -> parse("verification:\n  public_keys: [private.pem]\n", Map.of()))
        .hasMessage(
            "test.yaml: verification.public_keys[0] names "
                + dir.resolve("private.pem")
                + ", which is not a PEM public key ('-----BEGIN PUBLIC KEY-----'; make one with"
                + " 'openssl pkey -in KEY -pubout')");
  }
}
