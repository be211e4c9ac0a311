package dev.modelcache.store;

import java.nio.file.Path;

/**
 * Bytes written and fsynced under a temporary name, with their digests, waiting to be installed or
 * discarded.
 *
 * @param gitSha1 the git blob SHA-1 when it was computed, else null
 */
public record StagedFile(Path temp, long size, String sha256, String gitSha1) {}
