package dev.modelcache.source;

/**
 * One file of a snapshot.
 *
 * @param path relative to the model root, '/'-separated, never escaping it
 * @param size bytes, as the source reports them
 * @param sha256 the digest the source vouches for, or null when it has none
 */
public record SourceFile(String path, long size, String sha256) {}
