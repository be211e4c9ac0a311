package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.CompletedPart;
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

  /** Parts of larger files: 10,000 of them (S3's limit) reach 5 TiB. */
  static final long PART_BYTES = 512L << 20;

  /**
   * User metadata ({@code x-amz-meta-sha256}) naming the SHA-256 of the whole object: lets a later
   * mirror skip a multipart object already there. Fetches do not trust it.
   */
  static final String SHA256_METADATA = "sha256";

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
    return mirror(s3, target, files, lockJson, MAX_SINGLE_PUT, PART_BYTES);
  }

  /**
   * Like {@link #mirror(S3Client, ModelConfig, List, String)}: files over {@code singlePutMax}
   * bytes go up in parts of {@code partBytes}.
   */
  static Result mirror(
      S3Client s3,
      ModelConfig target,
      List<Upload> files,
      String lockJson,
      long singlePutMax,
      long partBytes)
      throws IOException {
    String bucket = S3Source.bucket(target);
    String prefix = S3Source.prefix(target);
    int uploaded = 0;
    int present = 0;
    long bytes = 0;
    for (Upload file : files) {
      String checksum = base64(file.sha256());
      if (alreadyThere(s3, target, bucket, prefix + file.path(), file, checksum)) {
        present++;
        continue;
      }
      if (file.size() > singlePutMax) {
        uploadInParts(s3, target, bucket, prefix + file.path(), file, partBytes);
      } else {
        try {
          s3.putObject(
              b ->
                  b.bucket(bucket)
                      .key(prefix + file.path())
                      .contentLength(file.size())
                      .checksumSHA256(checksum)
                      .metadata(Map.of(SHA256_METADATA, file.sha256())),
              RequestBody.fromFile(file.file()));
        } catch (SdkException e) {
          throw S3Errors.failure(target, "PUT " + file.path(), null, e);
        }
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
      throw S3Errors.failure(target, "PUT " + S3Source.LOCK_OBJECT, null, e);
    }
    return new Result(uploaded, present, bytes, strays(s3, target, bucket, prefix, files));
  }

  /**
   * A file over one PUT's limit, in parts: each part carries its own {@code x-amz-checksum-sha256},
   * so the store checks every byte on arrival. The object's checksum is then a composite of the
   * parts, which a fetch does not use: the bucket's {@code modelcache.lock} vouches for the whole.
   */
  private static void uploadInParts(
      S3Client s3, ModelConfig target, String bucket, String key, Upload file, long partBytes)
      throws IOException {
    String uploadId;
    try {
      uploadId =
          s3.createMultipartUpload(
                  b ->
                      b.bucket(bucket)
                          .key(key)
                          .checksumAlgorithm(ChecksumAlgorithm.SHA256)
                          .metadata(Map.of(SHA256_METADATA, file.sha256())))
              .uploadId();
    } catch (SdkException e) {
      throw S3Errors.failure(target, "starting the multipart upload of " + file.path(), null, e);
    }
    boolean completed = false;
    try {
      List<CompletedPart> parts = new ArrayList<>();
      int number = 1;
      for (long offset = 0; offset < file.size(); offset += partBytes, number++) {
        long length = Math.min(partBytes, file.size() - offset);
        String checksum = Base64.getEncoder().encodeToString(sha256(file.file(), offset, length));
        long start = offset;
        int part = number;
        String etag =
            s3.uploadPart(
                    b ->
                        b.bucket(bucket)
                            .key(key)
                            .uploadId(uploadId)
                            .partNumber(part)
                            .contentLength(length)
                            .checksumSHA256(checksum),
                    RequestBody.fromContentProvider(
                        () -> region(file.file(), start, length),
                        length,
                        "application/octet-stream"))
                .eTag();
        parts.add(
            CompletedPart.builder().partNumber(part).eTag(etag).checksumSHA256(checksum).build());
      }
      s3.completeMultipartUpload(
          b -> b.bucket(bucket).key(key).uploadId(uploadId).multipartUpload(m -> m.parts(parts)));
      completed = true;
    } catch (SdkException e) {
      throw S3Errors.failure(target, "multipart upload of " + file.path(), null, e);
    } finally {
      if (!completed) {
        try {
          s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId));
        } catch (SdkException e) {
          // the bucket's lifecycle rules clean up what could not be aborted
        }
      }
    }
  }

  private static InputStream region(Path file, long offset, long length) {
    try {
      FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
      channel.position(offset);
      return new LimitedInputStream(Channels.newInputStream(channel), length);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static byte[] sha256(Path file, long offset, long length) throws IOException {
    MessageDigest digest = sha256();
    try (InputStream in = region(file, offset, length)) {
      byte[] buffer = new byte[1 << 16];
      int n;
      while ((n = in.read(buffer)) >= 0) {
        digest.update(buffer, 0, n);
      }
    }
    return digest.digest();
  }

  private static boolean alreadyThere(
      S3Client s3, ModelConfig target, String bucket, String key, Upload file, String checksum)
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
      throw S3Errors.failure(target, "HEAD " + key, null, e);
    } catch (SdkException e) {
      throw S3Errors.failure(target, "HEAD " + key, null, e);
    }
    // a multipart object's checksum is a composite: the digest modelcache recorded beside it says
    return head.contentLength() != null
        && head.contentLength() == file.size()
        && (checksum.equals(head.checksumSHA256())
            || file.sha256().equals(head.metadata().get(SHA256_METADATA)));
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
      throw S3Errors.failure(target, "listing " + target.source(), null, e);
    }
    return strays;
  }

  private static String base64(String sha256Hex) {
    return Base64.getEncoder().encodeToString(HexFormat.of().parseHex(sha256Hex));
  }

  private static byte[] sha256(byte[] bytes) {
    return sha256().digest(bytes);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
