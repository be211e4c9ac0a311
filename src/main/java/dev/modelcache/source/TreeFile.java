package dev.modelcache.source;

/**
 * One file of a commit's whole tree listing, as the Hub's tree API gives it (before include/exclude
 * patterns): what huggingface_hub caches as {@code trees/{commit}.json}.
 *
 * @param blobId the git blob SHA-1 (the tree entry's {@code oid})
 * @param lfsSha256 the LFS object's SHA-256 ({@code lfs.oid}), or null for a plain git file
 * @param lfsSize the LFS object's size ({@code lfs.size}), or null for a plain git file
 * @param xetHash the Xet hash ({@code xetHash}) of a file stored in Xet, or null
 */
public record TreeFile(
    String path, long size, String blobId, String lfsSha256, Long lfsSize, String xetHash) {}
