package dev.modelcache.source;

import dev.modelcache.config.Config.GcsConfig;
import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.Secret;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A folder of a Google Cloud Storage bucket ({@code gs://bucket/prefix}), read through GCS's
 * S3-compatible XML API ({@code https://storage.googleapis.com}) with an HMAC key, by the same
 * machinery as {@link S3Source}: listing with pagination, include/exclude, the {@code
 * modelcache.lock} object and {@code .sha256} sidecars as what vouches for a file's SHA-256, each
 * read pinned to the listed object's ETag ({@code If-Match}), byte ranges for resume and parallel
 * parts, and the same failure table ({@link S3Errors}, with GCS's own advice for a refused key or
 * access).
 *
 * <p>Requests are path-style and signed (AWS signature v4) for region {@code auto}, which the XML
 * API accepts for every bucket. Application default credentials and workload identity (OAuth
 * tokens) are not used: a private bucket needs an HMAC key ({@code GCS_HMAC_ACCESS_ID}, {@code
 * GCS_HMAC_SECRET}); a public one needs {@code anonymous: true}.
 */
public final class GcsSource implements ModelSource {
  private final GcsConfig config;
  private final S3Source s3;

  /** A source whose one client (shared by every {@code gs://} model) {@code config} sets up. */
  public GcsSource(GcsConfig config) {
    this.config = config;
    this.s3 = new S3Source(settings -> client(config, settings));
  }

  /**
   * The XML API's client: the JDK's HTTP client, the HMAC key as static credentials (or anonymous),
   * no SDK retries (the fetch's backoff sees every failure), no checksums computed that no request
   * needs.
   */
  static S3Client client(GcsConfig config, S3Config settings) {
    return S3Client.builder()
        .httpClientBuilder(
            UrlConnectionHttpClient.builder()
                .connectionTimeout(Duration.ofSeconds(15))
                .socketTimeout(Duration.ofSeconds(60)))
        .region(Region.of(settings.region()))
        .forcePathStyle(settings.pathStyle())
        .endpointOverride(URI.create(config.endpoint()))
        .credentialsProvider(credentials(config))
        .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.doNotRetry()))
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .build();
  }

  private static AwsCredentialsProvider credentials(GcsConfig config) {
    Secret secret = config.secret();
    String accessId = config.accessId();
    if (config.anonymous() || accessId == null || secret == null) {
      return AnonymousCredentialsProvider.create();
    }
    return StaticCredentialsProvider.create(AwsBasicCredentials.create(accessId, secret.reveal()));
  }

  /** Lists the model's folder, after checking that there is a key to sign with (or none needed). */
  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    requireKey(model);
    return s3.resolve(model);
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    requireKey(model);
    return s3.open(model, snapshot, file, offset, end);
  }

  private void requireKey(ModelConfig model) throws SourceException {
    if (!config.anonymous() && config.accessId() == null) {
      throw new SourceException(
          model.name()
              + " - "
              + model.source()
              + " needs an HMAC key for Cloud Storage's XML API: set GCS_HMAC_ACCESS_ID and"
              + " GCS_HMAC_SECRET (or sources.gcs.hmac_access_id and hmac_secret) to a service"
              + " account's HMAC key, or sources.gcs.anonymous: true for a public bucket;"
              + " application default credentials and workload identity are not used");
    }
  }

  @Override
  public void close() {
    s3.close();
  }
}
