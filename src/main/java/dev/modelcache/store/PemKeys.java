package dev.modelcache.store;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the PEM keys that sign and verify {@code modelcache.lock}: ECDSA P-256 and Ed25519, public
 * keys as SubjectPublicKeyInfo ({@code BEGIN PUBLIC KEY}), private keys as PKCS#8 ({@code BEGIN
 * PRIVATE KEY}) or, for EC, SEC1 ({@code BEGIN EC PRIVATE KEY}, what {@code openssl ecparam
 * -genkey} writes). No message ever quotes a key's text.
 */
final class PemKeys {
  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]*)-----END \\1-----");

  /** 1.2.840.10045.2.1 (id-ecPublicKey) and 1.2.840.10045.3.1.7 (prime256v1), DER-encoded. */
  private static final byte[] EC_ALGORITHM =
      HexFormat.of().parseHex("301306072a8648ce3d020106082a8648ce3d030107");

  private static final byte[] P256_OID = HexFormat.of().parseHex("06082a8648ce3d030107");

  private PemKeys() {}

  /** An ECDSA P-256 or Ed25519 public key from its PEM; {@code origin} names it in messages. */
  static PublicKey publicKey(String pem, String origin) throws IOException {
    byte[] der = body(pem, "PUBLIC KEY", origin);
    for (String algorithm : new String[] {"EC", "Ed25519"}) {
      try {
        return checked(
            KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der)), origin);
      } catch (GeneralSecurityException e) {
        // not this algorithm: try the next
      }
    }
    throw new IOException(origin + " is neither an ECDSA P-256 nor an Ed25519 public key");
  }

  /** An ECDSA P-256 or Ed25519 private key from its PEM (PKCS#8, or SEC1 for EC). */
  static PrivateKey privateKey(String pem, String origin) throws IOException {
    if (pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || pem.contains("Proc-Type: 4,ENCRYPTED")) {
      throw new IOException(
          origin
              + " is encrypted; modelcache takes no passphrase: give it a decrypted copy"
              + " ('openssl pkcs8 -topk8 -nocrypt -in KEY -out plain.pem') kept out of the repository");
    }
    byte[] der;
    if (pem.contains("-----BEGIN EC PRIVATE KEY-----")) {
      byte[] sec1 = body(pem, "EC PRIVATE KEY", origin);
      if (indexOf(sec1, P256_OID) < 0) {
        throw new IOException(origin + " is an EC key on another curve than P-256 (prime256v1)");
      }
      der = pkcs8(sec1);
    } else {
      der = body(pem, "PRIVATE KEY", origin);
    }
    for (String algorithm : new String[] {"EC", "Ed25519"}) {
      try {
        return checked(
            KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der)),
            origin);
      } catch (GeneralSecurityException e) {
        // not this algorithm: try the next
      }
    }
    throw new IOException(origin + " is neither an ECDSA P-256 nor an Ed25519 private key");
  }

  private static <K extends java.security.Key> K checked(K key, String origin) throws IOException {
    if (key instanceof ECKey ec && ec.getParams().getCurve().getField().getFieldSize() != 256) {
      throw new IOException(origin + " is an EC key on another curve than P-256 (prime256v1)");
    }
    return key;
  }

  /** The DER bytes of the {@code type} block of {@code pem}. */
  private static byte[] body(String pem, String type, String origin) throws IOException {
    Matcher matcher = PEM.matcher(pem);
    while (matcher.find()) {
      if (matcher.group(1).equals(type)) {
        try {
          return Base64.getMimeDecoder().decode(matcher.group(2));
        } catch (IllegalArgumentException e) {
          break;
        }
      }
    }
    throw new IOException(origin + " holds no valid PEM '-----BEGIN " + type + "-----' block");
  }

  /** A SEC1 P-256 private key wrapped as PKCS#8, which the JDK reads. */
  private static byte[] pkcs8(byte[] sec1) {
    ByteArrayOutputStream content = new ByteArrayOutputStream();
    content.writeBytes(new byte[] {0x02, 0x01, 0x00}); // version 0
    content.writeBytes(EC_ALGORITHM);
    content.writeBytes(der(0x04, sec1));
    return der(0x30, content.toByteArray());
  }

  private static byte[] der(int tag, byte[] content) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    int length = content.length;
    if (length < 0x80) {
      out.write(length);
    } else if (length < 0x100) {
      out.write(0x81);
      out.write(length);
    } else {
      out.write(0x82);
      out.write(length >> 8);
      out.write(length & 0xff);
    }
    out.writeBytes(content);
    return out.toByteArray();
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
