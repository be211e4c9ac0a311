package dev.modelcache.config;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.jspecify.annotations.Nullable;

/**
 * A credential that never prints itself: {@code toString()} is masked so it cannot reach logs or
 * errors.
 */
public final class Secret {
  private final String value;

  private Secret(String value) {
    this.value = value;
  }

  /** Returns the secret, or {@code null} when {@code value} is null or blank. */
  public static @Nullable Secret ofNullable(@Nullable String value) {
    return value == null || value.isBlank() ? null : new Secret(value.strip());
  }

  /** The clear value, for the one place that sends it (an HTTP header, a signer). */
  public String reveal() {
    return value;
  }

  /** Compares in time independent of where the strings differ. */
  public boolean matches(@Nullable String candidate) {
    if (candidate == null) {
      return false;
    }
    return MessageDigest.isEqual(
        value.getBytes(StandardCharsets.UTF_8), candidate.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "****";
  }
}
