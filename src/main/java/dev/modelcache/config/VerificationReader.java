package dev.modelcache.config;

import dev.modelcache.config.Config.PublicKeyConfig;
import dev.modelcache.config.Config.VerificationConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reads {@code verification:}: the public keys trusted to sign {@code modelcache.lock}, each a PEM
 * text given inline or a path to a PEM file (relative to the config's folder), and {@code
 * require_signature}. The keys are parsed where they are used ({@code store.LockSignature}); here
 * only their PEM shape is checked.
 */
final class VerificationReader {
  static final String PEM_PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----";

  private final Map<String, String> env;

  VerificationReader(Map<String, String> env) {
    this.env = env;
  }

  VerificationConfig read(ConfigNode node, Path baseDir) {
    // the variable holds file paths separated by commas; the file a list of paths or PEM texts
    List<String> given =
        env.get(node.envName("public_keys")) == null
            ? node.strings("public_keys")
            : Arrays.stream(node.string("public_keys", "").split(","))
                .map(String::strip)
                .filter(path -> !path.isEmpty())
                .toList();
    boolean required = node.bool("require_signature", false);
    String key = node.qualify("public_keys");
    List<PublicKeyConfig> keys = new ArrayList<>();
    for (int i = 0; i < given.size(); i++) {
      keys.add(key(node, key + "[" + i + "]", given.get(i).strip(), baseDir));
    }
    if (required && keys.isEmpty()) {
      throw node.error(
          node.qualify("require_signature"),
          "is true but "
              + key
              + " names no key: list the PEM public keys trusted to sign"
              + " modelcache.lock");
    }
    node.finish();
    return new VerificationConfig(keys, required);
  }

  private static PublicKeyConfig key(ConfigNode node, String name, String value, Path baseDir) {
    if (value.startsWith("-----BEGIN")) {
      return new PublicKeyConfig(name, checked(node, name, name, value));
    }
    Path file = baseDir.resolve(value).normalize();
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw node.error(name, "names " + file + ", which cannot be read: " + e.getMessage());
    }
    return new PublicKeyConfig(file.toString(), checked(node, name, file.toString(), text));
  }

  private static String checked(ConfigNode node, String name, String origin, String pem) {
    if (!pem.contains(PEM_PUBLIC_KEY)) {
      throw node.error(
          name,
          (name.equals(origin) ? "is" : "names " + origin + ", which is")
              + " not a PEM public key ('"
              + PEM_PUBLIC_KEY
              + "'; make one with 'openssl pkey -in KEY -pubout')");
    }
    return pem;
  }
}
