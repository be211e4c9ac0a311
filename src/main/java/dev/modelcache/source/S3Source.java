package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config.S3Config;
import dev.modelcache.config.ModelConfig;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.ChecksumType;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

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
 */
public final class S3Source implements ModelSource, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(S3Source.class);
  static final String LOCK_OBJECT = "modelcache.lock";
  static final String SIDECAR_SUFFIX = ".sha256";
  private static final int MAX_PAGES = 100_000;
  private static final int PARALLEL_HEADS = 8;
  private static final AtomicInteger HEAD_THREADS = new AtomicInteger();
  private static final int MAX_SIDECAR_BYTES = 4096;
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

  private final Function<S3Config, S3Client> factory;
  private final Map<S3Config, S3Client> clients = new ConcurrentHashMap<>();
  private final ObjectMapper json = new ObjectMapper();
  private final ExecutorService describers =
      Executors.newFixedThreadPool(
          PARALLEL_HEADS,
          task -> {
            Thread thread =
                new Thread(task, "modelcache-s3-head-" + HEAD_THREADS.incrementAndGet());
            thread.setDaemon(true);
            return thread;
          });

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
    return clients.computeIfAbsent(model.s3().client(), factory);
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

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    S3Client s3 = clientFor(model);
    String bucket = bucket(model);
    String prefix = prefix(model);
    Map<String, S3Object> objects = new TreeMap<>();
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
        objects.put(key.substring(prefix.length()), object);
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

    Map<String, LockedDigest> mirrored =
        objects.containsKey(LOCK_OBJECT) ? readLock(model, s3, bucket, prefix) : Map.of();
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<String> paths = new ArrayList<>();
    for (String path : objects.keySet()) {
      boolean sidecar =
          path.endsWith(SIDECAR_SUFFIX)
              && objects.containsKey(path.substring(0, path.length() - SIDECAR_SUFFIX.length()));
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
    // one HEAD per file, several at once: a folder of many files costs a few round trips, not one
    // each
    List<Future<SourceFile>> heads = new ArrayList<>();
    for (String path : paths) {
      heads.add(
          describers.submit(
              () -> describe(model, s3, bucket, prefix, path, objects.keySet(), mirrored)));
    }
    List<SourceFile> files = new ArrayList<>();
    IOException failure = null;
    for (Future<SourceFile> head : heads) {
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
        heads.forEach(h -> h.cancel(true));
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(model.name() + " - interrupted while listing");
      }
    }
    if (failure != null) {
      throw failure;
    }
    return new Snapshot(null, files);
  }

  /** HEAD with checksum mode: size, ETag, version id and the object's own SHA-256. */
  private SourceFile describe(
      ModelConfig model,
      S3Client s3,
      String bucket,
      String prefix,
      String path,
      Set<String> listed,
      Map<String, LockedDigest> mirrored)
      throws IOException {
    String key = prefix + path;
    String versionId = model.versionIds().get(path);
    HeadObjectResponse head;
    try {
      head =
          s3.headObject(
              b ->
                  b.bucket(bucket)
                      .key(key)
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
    String sha256 = null;
    String origin = null;
    String checksum = head.checksumSHA256();
    if (checksum != null
        && head.checksumType() != ChecksumType.COMPOSITE
        && !checksum.contains("-")) {
      sha256 = fromBase64(checksum);
      if (sha256 != null) {
        origin = "the object's x-amz-checksum-sha256";
      }
    }
    LockedDigest locked = mirrored.get(path);
    if (locked != null && locked.size() != size) {
      log.warn(
          "{} - {}: {} bytes in the bucket's {}, {} in the bucket: that entry is ignored",
          model.name(),
          path,
          locked.size(),
          LOCK_OBJECT,
          size);
    } else if (locked != null) {
      if (sha256 != null && !sha256.equals(locked.sha256())) {
        throw new SourceException(
            model.name()
                + " - "
                + path
                + ": the object's x-amz-checksum-sha256 is "
                + sha256
                + " but the bucket's "
                + LOCK_OBJECT
                + " says "
                + locked.sha256()
                + "; the mirror at "
                + model.source()
                + " is inconsistent: mirror it again");
      }
      if (sha256 == null) {
        sha256 = locked.sha256();
        origin = "the bucket's " + LOCK_OBJECT;
      }
    }
    if (sha256 == null && listed.contains(path + SIDECAR_SUFFIX)) {
      sha256 = readSidecar(model, s3, bucket, key + SIDECAR_SUFFIX, path + SIDECAR_SUFFIX);
      origin = "the sidecar object " + path + SIDECAR_SUFFIX;
    }
    return new SourceFile(
        path, size, sha256, null, origin, unquote(head.eTag()), normaliseVersion(head.versionId()));
  }

  private String readSidecar(ModelConfig model, S3Client s3, String bucket, String key, String path)
      throws IOException {
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
    if (!HEX64.matcher(first).matches()) {
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

  /**
   * A {@code modelcache.lock} at the root of the prefix, as {@code modelcache mirror} writes it.
   */
  private Map<String, LockedDigest> readLock(
      ModelConfig model, S3Client s3, String bucket, String prefix) throws IOException {
    JsonNode root;
    try {
      root =
          json.readTree(
              s3.getObjectAsBytes(b -> b.bucket(bucket).key(prefix + LOCK_OBJECT)).asByteArray());
    } catch (SdkException e) {
      throw S3Errors.failure(model, "GET " + LOCK_OBJECT, null, e);
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

  private record LockedDigest(long size, String sha256) {}

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

  private static String fromBase64(String value) {
    try {
      byte[] bytes = Base64.getDecoder().decode(value);
      return bytes.length == 32 ? HexFormat.of().formatHex(bytes) : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  static String unquote(String etag) {
    if (etag == null) {
      return null;
    }
    String value = etag.startsWith("W/") ? etag.substring(2) : etag;
    return value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")
        ? value.substring(1, value.length() - 1)
        : value;
  }

  private static String normaliseVersion(String versionId) {
    return versionId == null || versionId.isEmpty() || versionId.equals("null") ? null : versionId;
  }

  @Override
  public void close() {
    describers.shutdownNow();
    clients.values().forEach(S3Client::close);
    clients.clear();
  }
}
