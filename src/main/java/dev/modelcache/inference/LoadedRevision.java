package dev.modelcache.inference;

/**
 * One revision a model has loaded, as {@code /models} and {@code /health} list it.
 *
 * @param role {@code primary} (answers the requests that name no revision, but the canary's share),
 *     {@code canary} or {@code previous} (answers only the requests that name it)
 */
public record LoadedRevision(String revision, String role) {}
