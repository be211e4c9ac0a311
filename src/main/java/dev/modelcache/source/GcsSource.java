package dev.modelcache.source;

import dev.modelcache.config.Config.GcsConfig;
import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.Secret;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import okhttp3.OkHttpClient;
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
 * A folder of a Google Cloud Storage bucket ({@code gs://bucket/prefix}). With an HMAC key (or
 * {@code anonymous: true}) it is read through GCS's S3-compatible XML API ({@code
 * https://storage.googleapis.com}) by the same machinery as {@link S3Source}: listing with
 * pagination, include/exclude, the {@code modelcache.lock} object and {@code .sha256} sidecars as
 * what vouches for a file's SHA-256, each read pinned to the listed object's ETag ({@code
 * If-Match}), byte ranges for resume and parallel parts, the {@code x-goog-hash} of each object's
 * {@code HEAD} as a transport check, and the same failure table ({@link S3Errors}, with GCS's own
 * advice for a refused key or access). Requests are path-style and signed (AWS signature v4) for
 * region {@code auto}, which the XML API accepts for every bucket.
 *
 * <p>Without an HMAC key it is read through the JSON API with application default credentials and
 * workload identity ({@link GcsJsonSource}).
 */
public final class GcsSource implements ModelSource {
  private final GcsConfig config;
  private final S3Source s3;
  private final GcsJsonSource json;

  /**
   * A source whose clients (shared by every {@code gs://} model) {@code config} sets up.
   *
   * @param client the JSON API's HTTP client, which the caller owns and closes
   * @param env where {@code GOOGLE_APPLICATION_CREDENTIALS} is read
   */
  public GcsSource(GcsConfig config, OkHttpClient client, Map<String, String> env) {
    this.config = config;
    this.s3 = new S3Source(settings -> client(config, settings));
    this.json = new GcsJsonSource(config, client, env);
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

  /** Lists the model's folder: through the XML API with an HMAC key, else the JSON API. */
  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    return config.xmlApi() ? s3.resolve(model) : json.resolve(model);
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    return config.xmlApi()
        ? s3.open(model, snapshot, file, offset, end)
        : json.open(model, snapshot, file, offset, end);
  }

  @Override
  public void close() {
    s3.close();
    json.close();
  }
}
