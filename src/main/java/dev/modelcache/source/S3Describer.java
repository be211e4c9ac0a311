package dev.modelcache.source;

import static dev.modelcache.source.S3Source.LOCK_OBJECT;
import static dev.modelcache.source.S3Source.SIDECAR_SUFFIX;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.S3Listing.Listing;
import dev.modelcache.source.S3Listing.LockedDigest;
import dev.modelcache.threads.NamedThreads;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.ChecksumType;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;

/**
 * Each listed file of a model as a {@link SourceFile}: one {@code HEAD} with checksum mode per file
 * (several at once) for its size, ETag and version id, and the SHA-256 that vouches for it: the
 * object's own full-object checksum, else the bucket lock's entry, else its {@code .sha256}
 * sidecar. Cloud Storage's {@code x-goog-hash} (CRC32C, MD5) is kept as a transport check.
 */
final class S3Describer implements AutoCloseable {
  // logged under the source's name: the logger operators know for S3
  private static final Logger log = LoggerFactory.getLogger(S3Source.class);
  private static final int PARALLEL_HEADS = 8;
  private static final int MAX_SIDECAR_BYTES = 4096;

  private final NamedThreads threads = NamedThreads.numbered("modelcache-s3-head");
  private final ExecutorService heads = Executors.newFixedThreadPool(PARALLEL_HEADS, threads);

  /** A SHA-256 and what vouches for it; both null when nothing does. */
  private record Digest(@Nullable String sha256, @Nullable String origin) {}

  /** Every file of {@code listing}, in its order; the first failure is thrown once all are done. */
  List<SourceFile> describe(ModelConfig model, S3Client s3, Listing listing) throws IOException {
    // one HEAD per file, several at once: a folder of many files costs a few round trips, not one
    // each
    List<Future<SourceFile>> pending = new ArrayList<>();
    for (String path : listing.paths()) {
      pending.add(heads.submit(() -> describe(model, s3, listing, path)));
    }
    List<SourceFile> files = new ArrayList<>();
    IOException failure = null;
    for (Future<SourceFile> head : pending) {
      try {
        files.add(head.get());
      } catch (ExecutionException e) {
        if (failure == null) {
          failure =
              e.getCause() instanceof IOException io
                  ? io
                  : new SourceException(model.name() + " - " + e.getCause(), e.getCause());
        }
      } catch (InterruptedException e) {
        pending.forEach(h -> h.cancel(true));
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(model.name() + " - interrupted while listing");
      }
    }
    if (failure != null) {
      throw failure;
    }
    return files;
  }

  /** HEAD with checksum mode: size, ETag, version id and the object's own SHA-256. */
  private static SourceFile describe(ModelConfig model, S3Client s3, Listing listing, String path)
      throws IOException {
    String versionId = model.versionIds().get(path);
    HeadObjectResponse head;
    try {
      head =
          s3.headObject(
              b ->
                  b.bucket(listing.bucket())
                      .key(listing.prefix() + path)
                      .versionId(versionId)
                      .checksumMode(ChecksumMode.ENABLED));
    } catch (SdkException e) {
      throw S3Errors.failure(model, "HEAD " + path, versionId, e);
    }
    long size = head.contentLength() == null ? -1 : head.contentLength();
    if (size < 0) {
      throw new SourceException(
          model.name() + " - the store gave no size for " + path + " of " + model.source());
    }
    Digest digest = digest(model, s3, listing, path, size, head);
    return new SourceFile(
        path,
        size,
        digest.sha256(),
        null,
        digest.origin(),
        S3Source.unquote(head.eTag()),
        normaliseVersion(head.versionId()),
        // Cloud Storage's XML API reports the whole object's CRC32C and MD5; S3 sends none
        ObjectHashes.ofGoogHash(
            String.join(",", head.sdkHttpResponse().matchingHeaders("x-goog-hash"))));
  }

  /**
   * The strongest SHA-256 there is for {@code path}: the object's own, else the bucket lock's entry
   * (ignored when its size differs; refused when it contradicts the object's own), else the
   * sidecar's.
   */
  private static Digest digest(
      ModelConfig model,
      S3Client s3,
      Listing listing,
      String path,
      long size,
      HeadObjectResponse head)
      throws IOException {
    Digest own = ownChecksum(head);
    LockedDigest locked = listing.mirrored().get(path);
    if (locked != null && locked.size() != size) {
      log.warn(
          "{} - {}: {} bytes in the bucket's {}, {} in the bucket: that entry is ignored",
          model.name(),
          path,
          locked.size(),
          LOCK_OBJECT,
          size);
    } else if (locked != null) {
      if (own != null && !Objects.equals(own.sha256(), locked.sha256())) {
        throw new SourceException(
            model.name()
                + " - "
                + path
                + ": the object's x-amz-checksum-sha256 is "
                + own.sha256()
                + " but the bucket's "
                + LOCK_OBJECT
                + " says "
                + locked.sha256()
                + "; the mirror at "
                + model.source()
                + " is inconsistent: mirror it again");
      }
      if (own == null) {
        return new Digest(locked.sha256(), "the bucket's " + LOCK_OBJECT);
      }
    }
    if (own != null) {
      return own;
    }
    if (listing.keys().contains(path + SIDECAR_SUFFIX)) {
      String sidecar = path + SIDECAR_SUFFIX;
      return new Digest(
          readSidecar(model, s3, listing.bucket(), listing.prefix() + sidecar, sidecar),
          "the sidecar object " + sidecar);
    }
    return new Digest(null, null);
  }

  /** The object's full-object {@code x-amz-checksum-sha256}, or null (none, or a composite). */
  private static @Nullable Digest ownChecksum(HeadObjectResponse head) {
    String checksum = head.checksumSHA256();
    if (checksum == null
        || head.checksumType() == ChecksumType.COMPOSITE
        || checksum.contains("-")) {
      return null;
    }
    String sha256 = fromBase64(checksum);
    return sha256 == null ? null : new Digest(sha256, "the object's x-amz-checksum-sha256");
  }

  private static String readSidecar(
      ModelConfig model, S3Client s3, String bucket, String key, String path) throws IOException {
    byte[] bytes;
    try {
      bytes = s3.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray();
    } catch (SdkException e) {
      throw S3Errors.failure(model, "GET " + path, null, e);
    }
    String text =
        new String(bytes, 0, Math.min(bytes.length, MAX_SIDECAR_BYTES), StandardCharsets.UTF_8)
            .strip();
    String first = text.isEmpty() ? "" : text.split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
    if (!S3Listing.HEX64.matcher(first).matches()) {
      throw new SourceException(
          model.name()
              + " - the sidecar object "
              + path
              + " of "
              + model.source()
              + " does not start with a SHA-256 (64 hex digits, as sha256sum writes it); fix or delete it");
    }
    return first;
  }

  private static @Nullable String fromBase64(String value) {
    try {
      byte[] bytes = Base64.getDecoder().decode(value);
      return bytes.length == 32 ? HexFormat.of().formatHex(bytes) : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static @Nullable String normaliseVersion(@Nullable String versionId) {
    return versionId == null || versionId.isEmpty() || versionId.equals("null") ? null : versionId;
  }

  @Override
  public void close() {
    threads.stop(heads, NamedThreads.STOP_WAIT, log);
  }
}
