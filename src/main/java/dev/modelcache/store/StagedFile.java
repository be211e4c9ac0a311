package dev.modelcache.store;

import java.nio.file.Path;
import java.security.MessageDigest;
import org.jspecify.annotations.Nullable;

/**
 * Bytes written and fsynced under a temporary name, with their digests, waiting to be installed or
 * discarded.
 *
 * @param gitSha1 the git blob SHA-1 when it was computed, else null
 */
public record StagedFile(Path temp, long size, String sha256, @Nullable String gitSha1) {

  /**
   * A finished download with the digests computed while it was written ({@code gitSha1} may be
   * null).
   */
  static StagedFile digested(
      Path temp, long size, MessageDigest sha256, @Nullable MessageDigest gitSha1) {
    return new StagedFile(
        temp, size, Digests.hex(sha256), gitSha1 == null ? null : Digests.hex(gitSha1));
  }
}
