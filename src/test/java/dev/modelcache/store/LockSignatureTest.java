package dev.modelcache.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.config.Config.PublicKeyConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Signatures made by the real openssl (and by modelcache for openssl) over a lockfile's bytes. */
class LockSignatureTest {
  private static final byte[] LOCK =
      "{\n  \"version\" : 1,\n  \"models\" : { }\n}\n".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  private OpenSsl openssl;

  @BeforeEach
  void keys() throws Exception {
    OpenSsl.assumeInstalled();
    openssl = new OpenSsl(dir);
    openssl.ecKey("ec");
    openssl.edKey("ed");
    openssl.ecKey("other");
    Files.write(dir.resolve("modelcache.lock"), LOCK);
  }

  private LockSignature trusting(String... names) throws Exception {
    List<PublicKeyConfig> keys = new java.util.ArrayList<>();
    for (String name : names) {
      keys.add(new PublicKeyConfig(name + ".pub", Files.readString(dir.resolve(name + ".pub"))));
    }
    return LockSignature.trusting(keys);
  }

  private byte[] read(String name) throws Exception {
    return Files.readAllBytes(dir.resolve(name));
  }

  @Test
  void acceptsOpensslEcdsaDerAndBase64AndEd25519() throws Exception {
    openssl.run("dgst", "-sha256", "-sign", "ec.pem", "-out", "ec.sig", "modelcache.lock");
    openssl.run("base64", "-A", "-in", "ec.sig", "-out", "ec.b64"); // what cosign sign-blob writes
    openssl.run(
        "pkeyutl",
        "-sign",
        "-inkey",
        "ed.pem",
        "-rawin",
        "-in",
        "modelcache.lock",
        "-out",
        "ed.sig");
    LockSignature trusted = trusting("other", "ec", "ed");

    assertThat(trusted.verify(LOCK, read("ec.sig")))
        .contains(new LockSignature.Signer(openssl.keyId("ec"), "ecdsa-p256-sha256", "ec.pub"));
    assertThat(trusted.verify(LOCK, read("ec.b64")).orElseThrow().keyId())
        .isEqualTo(openssl.keyId("ec"));
    assertThat(trusted.verify(LOCK, read("ed.sig")))
        .contains(new LockSignature.Signer(openssl.keyId("ed"), "ed25519", "ed.pub"));
  }

  @Test
  void refusesALockfileChangedAfterSigningAndAnotherKeysSignature() throws Exception {
    openssl.run("dgst", "-sha256", "-sign", "ec.pem", "-out", "ec.sig", "modelcache.lock");
    byte[] changed = LOCK.clone();
    changed[changed.length - 3] = ' '; // one byte
    assertThat(trusting("ec").verify(changed, read("ec.sig"))).isEmpty();
    assertThat(trusting("other", "ed").verify(LOCK, read("ec.sig"))).isEmpty();
    assertThat(trusting("ec").verify(LOCK, "not a signature".getBytes(StandardCharsets.US_ASCII)))
        .isEmpty();
  }

  @Test
  void signsSoThatOpensslVerifies() throws Exception {
    openssl.run("pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "ec8.pem");
    for (String key : List.of("ec", "ec8")) { // SEC1 and PKCS#8
      Files.write(dir.resolve(key + ".sig"), LockSignature.sign(dir.resolve(key + ".pem"), LOCK));
      assertThat(
              openssl.run(
                  "dgst",
                  "-sha256",
                  "-verify",
                  "ec.pub",
                  "-signature",
                  key + ".sig",
                  "modelcache.lock"))
          .contains("Verified OK");
    }
    Files.write(dir.resolve("ed.sig"), LockSignature.sign(dir.resolve("ed.pem"), LOCK));
    assertThat(
            openssl.run(
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "ed.pub",
                "-rawin",
                "-in",
                "modelcache.lock",
                "-sigfile",
                "ed.sig"))
        .contains("Signature Verified Successfully");
  }

  @Test
  void refusesEncryptedAndForeignKeysWithoutQuotingThem() throws Exception {
    openssl.run("pkcs8", "-topk8", "-in", "ec.pem", "-out", "enc.pem", "-passout", "pass:hunter2");
    openssl.run(
        "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384.pem");
    String encrypted = Files.readString(dir.resolve("enc.pem"));
    assertThatThrownBy(() -> LockSignature.sign(dir.resolve("enc.pem"), LOCK))
        .hasMessageStartingWith(
            dir.resolve("enc.pem") + " is encrypted; modelcache takes no passphrase")
        .hasMessageNotContaining(encrypted.lines().skip(1).findFirst().orElseThrow());
    assertThatThrownBy(() -> LockSignature.sign(dir.resolve("p384.pem"), LOCK))
        .hasMessage(
            dir.resolve("p384.pem") + " is an EC key on another curve than P-256 (prime256v1)");
    assertThatThrownBy(
            () ->
                LockSignature.trusting(
                    List.of(
                        new PublicKeyConfig(
                            "k", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))))
        .hasMessage("k is neither an ECDSA P-256 nor an Ed25519 public key");
  }
}
