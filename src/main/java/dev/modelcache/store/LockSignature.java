package dev.modelcache.store;

import dev.modelcache.config.Config.PublicKeyConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Signatures of {@code modelcache.lock}, in {@code modelcache.lock.sig}: ECDSA P-256 over the
 * SHA-256 of the lockfile's bytes (DER, as {@code openssl dgst -sha256 -sign} writes it, or its
 * base64 as cosign's {@code sign-blob} does) or Ed25519 over the bytes themselves ({@code openssl
 * pkeyutl -sign -rawin}). A key's id is the first 16 hex digits of the SHA-256 of its DER public
 * key.
 *
 * <pre>{@code
 * LockSignature trusted = LockSignature.trusting(config.verification().publicKeys());
 * Optional<LockSignature.Signer> signer = trusted.verify(lockBytes, sigBytes);
 * }</pre>
 */
public final class LockSignature {
  /** What a lockfile's signature file is named after: {@code modelcache.lock.sig}. */
  public static final String SUFFIX = ".sig";

  static final String ECDSA = "ecdsa-p256-sha256";
  static final String ED25519 = "ed25519";

  /** Who signed: the key's id, its algorithm, and where the key was configured. */
  public record Signer(String keyId, String algorithm, String origin) {}

  private record TrustedKey(PublicKey key, Signer signer) {}

  private final List<TrustedKey> keys;

  private LockSignature(List<TrustedKey> keys) {
    this.keys = List.copyOf(keys);
  }

  /** Verifies with {@code keys}; fails naming the key that is not an ECDSA P-256 or Ed25519 one. */
  public static LockSignature trusting(List<PublicKeyConfig> keys) throws IOException {
    List<TrustedKey> trusted = new ArrayList<>();
    for (PublicKeyConfig config : keys) {
      PublicKey key = PemKeys.publicKey(config.pem(), config.origin());
      trusted.add(new TrustedKey(key, new Signer(keyId(key), algorithm(key), config.origin())));
    }
    return new LockSignature(trusted);
  }

  /** The signature file beside {@code lockfile}. */
  public static Path sigFile(Path lockfile) {
    return lockfile.resolveSibling(lockfile.getFileName() + SUFFIX);
  }

  /** The trusted keys' ids, for messages. */
  public List<String> keyIds() {
    return keys.stream().map(k -> k.signer().keyId()).toList();
  }

  /**
   * The trusted key whose signature of {@code data} {@code signature} is, binary or base64; empty
   * when none.
   */
  public Optional<Signer> verify(byte[] data, byte[] signature) {
    List<byte[]> forms = new ArrayList<>();
    forms.add(signature);
    try {
      forms.add(Base64.getMimeDecoder().decode(new String(signature, StandardCharsets.US_ASCII)));
    } catch (IllegalArgumentException e) {
      // binary: DER or raw Ed25519
    }
    for (TrustedKey key : keys) {
      for (byte[] form : forms) {
        if (verifies(key.key(), data, form)) {
          return Optional.of(key.signer());
        }
      }
    }
    return Optional.empty();
  }

  private static boolean verifies(PublicKey key, byte[] data, byte[] signature) {
    try {
      Signature verifier = Signature.getInstance(jcaName(key));
      verifier.initVerify(key);
      verifier.update(data);
      return verifier.verify(signature);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return false; // malformed for this key: not its signature
    }
  }

  /**
   * Signs {@code data} with the PEM private key in {@code keyFile}: DER for ECDSA, 64 bytes for
   * Ed25519, as openssl writes them. Messages name the file, never its content.
   */
  public static byte[] sign(Path keyFile, byte[] data) throws IOException {
    String pem;
    try {
      pem = Files.readString(keyFile, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IOException(keyFile + ": cannot read the signing key (" + e.getMessage() + ")", e);
    }
    PrivateKey key = PemKeys.privateKey(pem, keyFile.toString());
    try {
      Signature signer = Signature.getInstance(jcaName(key));
      signer.initSign(key);
      signer.update(data);
      return signer.sign();
    } catch (GeneralSecurityException e) {
      throw new IOException(keyFile + ": cannot sign with this key (" + e.getMessage() + ")", e);
    }
  }

  /** The first 16 hex digits of the SHA-256 of the key's DER SubjectPublicKeyInfo. */
  static String keyId(PublicKey key) {
    return HexFormat.of().formatHex(Digests.sha256().digest(key.getEncoded())).substring(0, 16);
  }

  static String algorithm(Key key) {
    return key.getAlgorithm().equals("EC") ? ECDSA : ED25519;
  }

  private static String jcaName(Key key) {
    return key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "Ed25519";
  }
}
