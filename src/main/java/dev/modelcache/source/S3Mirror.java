package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Copies verified files to an S3 folder so that {@link S3Source} fetches them back fully verified:
 * every object is uploaded with its {@code x-amz-checksum-sha256} (the store checks the bytes on
 * arrival and returns the digest to reads in checksum mode), then a {@code modelcache.lock} object
 * at the root of the prefix names every file's size and SHA-256, for stores that keep no checksums.
 * The lock goes last, so a reader never sees it before the objects it names. An object already
 * there with the same size and checksum is not uploaded again.
 *
 * <pre>{@code
 * S3Mirror.Result result = S3Mirror.mirror(s3, target, uploads, lockJson);
 * }</pre>
 */
public final class S3Mirror {
  /** The largest object one PUT may carry. */
  static final long MAX_SINGLE_PUT = 5L << 30;

  private S3Mirror() {}

  /** One verified file to copy: its path under the prefix, size, SHA-256 and bytes on disk. */
  public record Upload(String path, long size, String sha256, Path file) {}

  /**
   * What a mirror did.
   *
   * @param strays keys under the prefix that are not files of the snapshot (a fetch from the mirror
   *     would include them)
   */
  public record Result(int uploaded, int present, long bytesUploaded, List<String> strays) {}

  /**
   * Uploads {@code files} and then {@code lockJson} as {@code modelcache.lock} under {@code
   * target}'s prefix.
   *
   * @param target an {@code s3://} model: its bucket and prefix, and the name used in messages
   */
  public static Result mirror(S3Client s3, ModelConfig target, List<Upload> files, String lockJson)
      throws IOException {
    String bucket = S3Source.bucket(target);
    String prefix = S3Source.prefix(target);
    int uploaded = 0;
    int present = 0;
    long bytes = 0;
    for (Upload file : files) {
      if (file.size() > MAX_SINGLE_PUT) {
        throw new SourceException(
            target.name()
                + " - "
                + file.path()
                + " has "
                + file.size()
                + " bytes, more than one PUT may carry (5 GiB); this version mirrors no larger files:"
                + " copy it with 'aws s3 cp --checksum-algorithm SHA256' and keep modelcache.lock");
      }
      String checksum = base64(file.sha256());
      if (alreadyThere(s3, target, bucket, prefix + file.path(), file.size(), checksum)) {
        present++;
        continue;
      }
      try {
        s3.putObject(
            b ->
                b.bucket(bucket)
                    .key(prefix + file.path())
                    .contentLength(file.size())
                    .checksumSHA256(checksum),
            RequestBody.fromFile(file.file()));
      } catch (SdkException e) {
        throw S3Source.failure(target, "PUT " + file.path(), null, e);
      }
      uploaded++;
      bytes += file.size();
    }
    byte[] lock = lockJson.getBytes(StandardCharsets.UTF_8);
    try {
      s3.putObject(
          b ->
              b.bucket(bucket)
                  .key(prefix + S3Source.LOCK_OBJECT)
                  .contentType("application/json")
                  .checksumSHA256(Base64.getEncoder().encodeToString(sha256(lock))),
          RequestBody.fromBytes(lock));
    } catch (SdkException e) {
      throw S3Source.failure(target, "PUT " + S3Source.LOCK_OBJECT, null, e);
    }
    return new Result(uploaded, present, bytes, strays(s3, target, bucket, prefix, files));
  }

  private static boolean alreadyThere(
      S3Client s3, ModelConfig target, String bucket, String key, long size, String checksum)
      throws IOException {
    HeadObjectResponse head;
    try {
      head = s3.headObject(b -> b.bucket(bucket).key(key).checksumMode(ChecksumMode.ENABLED));
    } catch (NoSuchKeyException e) {
      return false;
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return false;
      }
      throw S3Source.failure(target, "HEAD " + key, null, e);
    } catch (SdkException e) {
      throw S3Source.failure(target, "HEAD " + key, null, e);
    }
    return head.contentLength() != null
        && head.contentLength() == size
        && checksum.equals(head.checksumSHA256());
  }

  private static List<String> strays(
      S3Client s3, ModelConfig target, String bucket, String prefix, List<Upload> files)
      throws IOException {
    Set<String> expected = new TreeSet<>();
    for (Upload file : files) {
      expected.add(prefix + file.path());
      expected.add(prefix + file.path() + S3Source.SIDECAR_SUFFIX);
    }
    expected.add(prefix + S3Source.LOCK_OBJECT);
    List<String> strays = new ArrayList<>();
    try {
      for (S3Object object :
          s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents()) {
        if (!expected.contains(object.key()) && !object.key().endsWith("/")) {
          strays.add(object.key());
        }
      }
    } catch (SdkException e) {
      throw S3Source.failure(target, "listing " + target.source(), null, e);
    }
    return strays;
  }

  private static String base64(String sha256Hex) {
    return Base64.getEncoder().encodeToString(HexFormat.of().parseHex(sha256Hex));
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
