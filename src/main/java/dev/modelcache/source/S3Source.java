package dev.modelcache.source;

import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.ModelConfig;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;

/**
 * A folder of an S3 bucket, or of any S3-compatible store ({@code s3://bucket/prefix}), through the
 * AWS SDK: every object under the prefix is a file of the model, listed with pagination, filtered
 * by include/exclude; "folder" markers (keys ending in '/') are skipped and a key that would escape
 * the model's folder is refused.
 *
 * <p>What vouches for each file's SHA-256, strongest first (config and {@code modelcache.lock} pins
 * come before all of these, in the fetch): the object's full-object {@code x-amz-checksum-sha256}
 * (asked for with checksum mode), the entry of a {@code modelcache.lock} object at the root of the
 * prefix (as {@code modelcache mirror} writes it), a {@code {key}.sha256} object beside it (its
 * first word, 64 hex digits). Neither {@code modelcache.lock} nor those sidecars are files of the
 * model. A file nothing vouches for has a null {@code sha256}: the fetch trusts it on first use, or
 * refuses it under {@code require_pins}.
 *
 * <p>Each file keeps its ETag and version id: bytes are read from exactly that version (or under
 * {@code If-Match} of that ETag when the bucket keeps no versions), so an object replaced during a
 * fetch fails instead of mixing two contents. Failures that may pass (503 SlowDown, 5xx, an
 * unreachable endpoint, a cut) are {@link RetryableSourceException}s; the SDK's own retries are off
 * so that the fetch's backoff and retry metrics see them.
 *
 * <p>This class holds the clients and reads the bytes; {@link S3Listing} lists a prefix, {@link
 * S3Describer} describes each file and {@link S3Errors} says what a failure means.
 */
public final class S3Source implements ModelSource, AutoCloseable {
  static final String LOCK_OBJECT = "modelcache.lock";
  static final String SIDECAR_SUFFIX = ".sha256";

  private final Function<S3Config, S3Client> factory;
  private final Map<S3Config, S3Client> clients = new ConcurrentHashMap<>();
  private final S3Describer describer = new S3Describer();

  /** A source whose clients use the AWS SDK's default credential chain (or none: anonymous). */
  public S3Source() {
    this(S3Source::client);
  }

  /** A source whose clients {@code factory} builds, one per distinct client config. */
  public S3Source(Function<S3Config, S3Client> factory) {
    this.factory = factory;
  }

  /**
   * An S3 client for {@code config}: the JDK's HTTP client, the default credential chain (env,
   * profile, web identity, container and instance roles) unless anonymous, no SDK retries, and no
   * checksums computed that no request needs.
   */
  public static S3Client client(S3Config config) {
    return client(config, false);
  }

  /**
   * Like {@link #client(S3Config)}; with {@code sdkRetries} the SDK retries throttling and server
   * errors itself (for {@code modelcache mirror}, whose uploads the fetch's backoff does not
   * drive).
   */
  public static S3Client client(S3Config config, boolean sdkRetries) {
    S3ClientBuilder builder =
        S3Client.builder()
            .httpClientBuilder(
                UrlConnectionHttpClient.builder()
                    .connectionTimeout(Duration.ofSeconds(15))
                    .socketTimeout(Duration.ofSeconds(60)))
            .region(Region.of(config.region()))
            .forcePathStyle(config.pathStyle())
            .credentialsProvider(
                config.anonymous()
                    ? AnonymousCredentialsProvider.create()
                    : DefaultCredentialsProvider.builder().build())
            .overrideConfiguration(
                o ->
                    o.retryStrategy(
                        sdkRetries
                            ? AwsRetryStrategy.standardRetryStrategy()
                            : AwsRetryStrategy.doNotRetry()))
            .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
            .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
    if (config.endpoint() != null) {
      builder.endpointOverride(URI.create(config.endpoint()));
    }
    return builder.build();
  }

  private S3Client clientFor(ModelConfig model) {
    return clients.computeIfAbsent(
        Objects.requireNonNull(model.s3(), "an s3:// model has S3 settings").client(), factory);
  }

  /** The bucket of {@code s3://bucket/prefix}. */
  public static String bucket(ModelConfig model) {
    String location = model.source().location();
    int slash = location.indexOf('/');
    return slash < 0 ? location : location.substring(0, slash);
  }

  /** The key prefix of the model's folder: empty, or ending in '/'. */
  public static String prefix(ModelConfig model) {
    String location = model.source().location();
    int slash = location.indexOf('/');
    return slash < 0 ? "" : location.substring(slash + 1) + "/";
  }

  /** Lists the prefix ({@link S3Listing}), then describes each file ({@link S3Describer}). */
  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    S3Client s3 = clientFor(model);
    return new Snapshot(null, describer.describe(model, s3, S3Listing.list(model, s3)));
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    if (offset >= end) {
      return new ByteArrayInputStream(new byte[0]);
    }
    GetObjectRequest.Builder request =
        GetObjectRequest.builder().bucket(bucket(model)).key(prefix(model) + file.path());
    if (offset > 0 || end < file.size()) {
      request.range("bytes=" + offset + "-" + (end - 1));
    }
    if (file.versionId() != null) {
      request.versionId(file.versionId());
    } else if (file.objectEtag() != null) {
      request.ifMatch("\"" + file.objectEtag() + "\"");
    }
    try {
      return new Body(clientFor(model).getObject(request.build()));
    } catch (SdkException e) {
      throw S3Errors.failure(model, "GET " + file.path(), file.versionId(), e);
    }
  }

  /** A response body that drops its connection when closed before its end. */
  private static final class Body extends FilterInputStream {
    private final ResponseInputStream<GetObjectResponse> response;
    private boolean ended;

    Body(ResponseInputStream<GetObjectResponse> response) {
      super(response);
      this.response = response;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      ended |= b < 0;
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      int n = super.read(buffer, offset, length);
      ended |= n < 0;
      return n;
    }

    @Override
    public void close() throws IOException {
      if (!ended) {
        response.abort();
      }
      super.close();
    }
  }

  static @Nullable String unquote(@Nullable String etag) {
    if (etag == null) {
      return null;
    }
    String value = etag.startsWith("W/") ? etag.substring(2) : etag;
    return value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")
        ? value.substring(1, value.length() - 1)
        : value;
  }

  @Override
  public void close() {
    describer.close();
    clients.values().forEach(S3Client::close);
    clients.clear();
  }
}
