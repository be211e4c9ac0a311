package dev.modelcache.source.s3;

import java.net.URI;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.BucketVersioningStatus;

/**
 * A real S3 server for tests: S3Proxy in this JVM on 127.0.0.1, an in-memory (or filesystem) blob
 * store, AWS signature v2/v4 checked against {@link #IDENTITY}/{@link #SECRET}. The first start
 * sets the {@code aws.accessKeyId}/{@code aws.secretAccessKey} system properties to them, so that
 * the AWS SDK's default credential chain (what modelcache uses) finds them.
 *
 * <pre>{@code
 * try (S3Server s3 = S3Server.start()) {
 *   s3.bucket("models");
 *   s3.put("models", "iris/model.pt", bytes, true); // with its x-amz-checksum-sha256
 *   // point sources.s3.endpoint at s3.endpoint(), path_style: true
 * }
 * }</pre>
 */
public final class S3Server implements AutoCloseable {
  public static final String IDENTITY = "modelcache-test";
  public static final String SECRET = "modelcache-test-secret";

  private final S3Proxy proxy;
  private final S3Client admin;

  private S3Server(S3Proxy proxy) {
    this.proxy = proxy;
    this.admin = client(endpoint());
  }

  /** An in-memory store (versioning supported). */
  public static S3Server start() throws Exception {
    return start(new TransientNio2BlobStore());
  }

  /** A store of files under {@code dir} (for the benchmark's gigabytes). */
  public static S3Server onDisk(Path dir) throws Exception {
    return start(new FilesystemNio2BlobStore(dir.toAbsolutePath().toString()));
  }

  private static S3Server start(BlobStore store) throws Exception {
    System.setProperty("aws.accessKeyId", IDENTITY);
    System.setProperty("aws.secretAccessKey", SECRET);
    S3Proxy proxy =
        S3Proxy.builder()
            .blobStore(store)
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, IDENTITY, SECRET)
            .endpoint(URI.create("http://127.0.0.1:0"))
            .stopTimeout(0)
            // temporary credentials (AWS_SESSION_TOKEN) sign an x-amz-security-token header,
            // which S3Proxy otherwise refuses as unknown (501); the signature still covers it
            .ignoreUnknownHeaders(true)
            .build();
    proxy.start(); // returns once Jetty listens
    return new S3Server(proxy);
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + proxy.getPort());
  }

  public int port() {
    return proxy.getPort();
  }

  /** A client with the test credentials, path-style, that sends checksums only when asked. */
  public static S3Client client(URI endpoint) {
    return S3Client.builder()
        .httpClient(UrlConnectionHttpClient.create())
        .region(Region.US_EAST_1)
        .endpointOverride(endpoint)
        .forcePathStyle(true)
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .credentialsProvider(
            StaticCredentialsProvider.create(AwsBasicCredentials.create(IDENTITY, SECRET)))
        .build();
  }

  public S3Client admin() {
    return admin;
  }

  public S3Server bucket(String name) {
    admin.createBucket(b -> b.bucket(name));
    return this;
  }

  public S3Server versionedBucket(String name) {
    bucket(name);
    admin.putBucketVersioning(
        b -> b.bucket(name).versioningConfiguration(v -> v.status(BucketVersioningStatus.ENABLED)));
    return this;
  }

  /**
   * Uploads {@code bytes}; with {@code checksum} the request carries their {@code
   * x-amz-checksum-sha256}, which the store keeps and returns to reads in checksum mode. Returns
   * the version id (null when the bucket keeps no versions).
   */
  public String put(String bucket, String key, byte[] bytes, boolean checksum) {
    // The JDK's HTTP client keeps up to 5 idle connections per host; on a loaded machine the
    // store may have closed several of them, and the SDK's 4 attempts can each draw a stale one
    // ("Error writing request body to server"). Each failure discards its connection, so a few
    // more rounds (bounded) always reach a live one. This is the test's set-up, not the source.
    for (int round = 1; ; round++) {
      try {
        return admin
            .putObject(
                b -> {
                  b.bucket(bucket).key(key);
                  if (checksum) {
                    b.checksumSHA256(base64Sha256(bytes));
                  }
                },
                RequestBody.fromBytes(bytes))
            .versionId();
      } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
        if (round == 3) {
          throw e;
        }
      }
    }
  }

  public static String base64Sha256(byte[] bytes) {
    try {
      return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    admin.close();
    try {
      proxy.stop();
    } catch (Exception e) {
      throw new IllegalStateException("S3Proxy did not stop", e);
    }
  }
}
