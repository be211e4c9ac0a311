package dev.modelcache.source;

import static dev.modelcache.source.S3Source.LOCK_OBJECT;
import static dev.modelcache.source.S3Source.SIDECAR_SUFFIX;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * What a model's prefix holds: its keys ({@code ListObjectsV2}, page after page), the files of the
 * model among them (include/exclude applied; folder markers, {@code .sha256} sidecars and the
 * bucket's {@code modelcache.lock} left out; version-pinned keys added back), and the digests that
 * lock vouches for.
 */
final class S3Listing {
  static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
  private static final int MAX_PAGES = 100_000;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** An entry of the bucket's {@code modelcache.lock}: a file's size and SHA-256. */
  record LockedDigest(long size, String sha256) {}

  /**
   * One listing of a model's prefix.
   *
   * @param paths the files of the model, relative to the prefix
   * @param keys every key listed, relative to the prefix (sidecars and the lock included)
   * @param mirrored the bucket lock's digests by path; empty when the prefix has no lock
   */
  record Listing(
      String bucket,
      String prefix,
      List<String> paths,
      Set<String> keys,
      Map<String, LockedDigest> mirrored) {}

  private S3Listing() {}

  /** Lists the model's prefix with {@code s3}. */
  static Listing list(ModelConfig model, S3Client s3) throws IOException {
    String bucket = S3Source.bucket(model);
    String prefix = S3Source.prefix(model);
    Set<String> keys = keys(model, s3, bucket, prefix);
    Map<String, LockedDigest> mirrored =
        keys.contains(LOCK_OBJECT) ? readLock(model, s3, bucket, prefix) : Map.of();
    return new Listing(bucket, prefix, files(model, prefix, keys), keys, mirrored);
  }

  /**
   * Every key under the prefix, relative to it and sorted, following continuation tokens; a listing
   * that repeats a token or never ends is refused.
   */
  private static Set<String> keys(ModelConfig model, S3Client s3, String bucket, String prefix)
      throws IOException {
    Set<String> keys = new TreeSet<>();
    Set<String> tokens = new HashSet<>();
    String token = null;
    int pages = 0;
    do {
      ListObjectsV2Request.Builder request =
          ListObjectsV2Request.builder().bucket(bucket).prefix(prefix);
      if (token != null) {
        request.continuationToken(token);
      }
      ListObjectsV2Response page;
      try {
        page = s3.listObjectsV2(request.build());
      } catch (SdkException e) {
        throw S3Errors.failure(model, "listing " + model.source(), null, e);
      }
      for (S3Object object : page.contents()) {
        String key = object.key();
        if (!key.startsWith(prefix) || key.endsWith("/") || key.length() == prefix.length()) {
          continue; // a folder marker, or the prefix itself
        }
        keys.add(key.substring(prefix.length()));
      }
      token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
      if (token != null && (!tokens.add(token) || ++pages >= MAX_PAGES)) {
        throw new SourceException(
            model.name()
                + " - the listing of "
                + model.source()
                + " does not end (continuation token repeated or over "
                + MAX_PAGES
                + " pages); is the endpoint an S3 server?");
      }
    } while (token != null);
    return keys;
  }

  /** The files of the model among {@code keys}, then the version-pinned keys not listed. */
  private static List<String> files(ModelConfig model, String prefix, Set<String> keys)
      throws SourceException {
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<String> paths = new ArrayList<>();
    for (String path : keys) {
      boolean sidecar =
          path.endsWith(SIDECAR_SUFFIX)
              && keys.contains(path.substring(0, path.length() - SIDECAR_SUFFIX.length()));
      if (sidecar || path.equals(LOCK_OBJECT) || !patterns.matches(path)) {
        continue;
      }
      paths.add(checkPath(model, prefix, path));
    }
    for (String pinned : model.versionIds().keySet()) {
      if (!paths.contains(checkPath(model, prefix, pinned))) {
        paths.add(pinned); // an older version of a key deleted or filtered since
      }
    }
    if (paths.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - "
              + model.source()
              + " has no objects"
              + (model.include().isEmpty() && model.exclude().isEmpty()
                  ? ""
                  : " matching include/exclude")
              + "; check the bucket and prefix");
    }
    return paths;
  }

  /**
   * A {@code modelcache.lock} at the root of the prefix, as {@code modelcache mirror} writes it.
   */
  private static Map<String, LockedDigest> readLock(
      ModelConfig model, S3Client s3, String bucket, String prefix) throws IOException {
    byte[] bytes;
    try {
      bytes = s3.getObjectAsBytes(b -> b.bucket(bucket).key(prefix + LOCK_OBJECT)).asByteArray();
    } catch (SdkException e) {
      throw S3Errors.failure(model, "GET " + LOCK_OBJECT, null, e);
    }
    return parseLock(model, bytes);
  }

  /**
   * The digests of a bucket's {@code modelcache.lock} (as {@code modelcache mirror} writes it) by
   * path: entries without a size or a 64-hex-digit SHA-256 are left out.
   *
   * @throws SourceException when the bytes are not JSON, naming the model and what to do
   */
  static Map<String, LockedDigest> parseLock(ModelConfig model, byte[] bytes)
      throws SourceException {
    JsonNode root;
    try {
      root = JSON.readTree(bytes);
    } catch (IOException e) {
      throw new SourceException(
          model.name()
              + " - the bucket's "
              + LOCK_OBJECT
              + " at "
              + model.source()
              + " is not valid JSON ("
              + e.getMessage()
              + "); mirror the model again or delete it",
          e);
    }
    Map<String, LockedDigest> digests = new HashMap<>();
    for (JsonNode entry : root.path("models")) {
      for (JsonNode file : entry.path("files")) {
        String sha256 = file.path("sha256").asText("");
        if (HEX64.matcher(sha256).matches() && file.path("size").isNumber()) {
          digests.put(
              file.path("path").asText(), new LockedDigest(file.path("size").asLong(), sha256));
        }
      }
    }
    return digests;
  }

  private static String checkPath(ModelConfig model, String prefix, String path)
      throws SourceException {
    if (SourceFile.escapes(path)) {
      throw new SourceException(
          model.name()
              + " - refusing S3 key '"
              + (prefix + path).replaceAll("\\p{Cntrl}", "?")
              + "' of "
              + model.source()
              + ": as a file path it is absolute or has '..', '.' or empty segments or control characters,"
              + " and could escape the model's folder; rename the object or exclude it");
    }
    return path;
  }
}
