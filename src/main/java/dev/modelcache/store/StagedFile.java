package dev.modelcache.store;

import java.nio.file.Path;

/**
 * Bytes written and fsynced under a temporary name, with their digest, waiting to be installed or
 * discarded.
 */
public record StagedFile(Path temp, long size, String sha256) {}
