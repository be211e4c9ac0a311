package dev.modelcache.source;

import com.azure.core.http.HttpHeaderName;
import com.azure.core.http.HttpMethod;
import com.azure.core.http.HttpPipeline;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.azure.core.util.Context;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceVersion;
import dev.modelcache.config.ModelConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import org.jspecify.annotations.Nullable;

/**
 * Reads bytes of the blobs of one container with {@code Get Blob}, sent through the SDK's own
 * pipeline (which signs it with the container client's credential), in chunks of at most 4 MiB read
 * whole before any byte is handed on. Each chunk is held to the listed ETag ({@code If-Match}) and
 * checked against the {@code Content-MD5} of its answer: the range's MD5 ({@code
 * x-ms-range-get-content-md5}), or for a blob read in one chunk the blob's own {@code Content-MD5}
 * where it has one. The check is of transport only (a mismatch is retried, never installed); it
 * never vouches for a file. A cut loses at most the chunk in flight: the fetch resumes after the
 * last chunk handed on.
 */
final class AzureBlobs {
  /** The most bytes Azure computes a range's MD5 for. */
  static final int MAX_CHUNK = 4 << 20;

  private static final HttpHeaderName VERSION = HttpHeaderName.fromString("x-ms-version");
  private static final HttpHeaderName RANGE = HttpHeaderName.fromString("x-ms-range");
  private static final HttpHeaderName RANGE_MD5 =
      HttpHeaderName.fromString("x-ms-range-get-content-md5");
  private static final HttpHeaderName IF_MATCH = HttpHeaderName.fromString("If-Match");
  private static final HttpHeaderName ERROR_CODE = HttpHeaderName.fromString("x-ms-error-code");
  private static final HttpHeaderName RETRY_AFTER = HttpHeaderName.fromString("Retry-After");
  private static final HttpHeaderName CONTENT_MD5 = HttpHeaderName.fromString("Content-MD5");

  private final BlobContainerClient container;
  private final String credential;
  private final int chunk;

  AzureBlobs(BlobContainerClient container, String credential, int chunk) {
    this.container = container;
    this.credential = credential;
    this.chunk = chunk;
  }

  BlobContainerClient container() {
    return container;
  }

  /** Where the credential comes from, for messages. */
  String credential() {
    return credential;
  }

  /**
   * Bytes {@code [offset, end)} of blob {@code name} (shown as {@code path}) of {@code size} bytes,
   * under {@code If-Match: etag} when the etag is not null; read chunk by chunk as the stream is.
   */
  InputStream open(
      ModelConfig model,
      String path,
      String name,
      long offset,
      long end,
      long size,
      @Nullable String etag) {
    return new InputStream() {
      private long next = offset;
      private ByteArrayInputStream current = new ByteArrayInputStream(new byte[0]);

      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] buffer, int from, int count) throws IOException {
        if (count == 0) {
          return 0;
        }
        if (current.available() == 0 && next < end) {
          long to = Math.min(end, next + chunk);
          current = new ByteArrayInputStream(chunk(model, path, name, next, to, size, etag));
          next = to;
        }
        return current.read(buffer, from, count);
      }
    };
  }

  /** One request: bytes {@code [from, to)}, all of them, their MD5 checked when one is given. */
  private byte[] chunk(
      ModelConfig model,
      String path,
      String name,
      long from,
      long to,
      long size,
      @Nullable String etag)
      throws IOException {
    HttpRequest request =
        new HttpRequest(HttpMethod.GET, url(name))
            .setHeader(VERSION, BlobServiceVersion.getLatest().getVersion())
            // the Shared Key signer writes "null" for a missing Content-Length, Azure "" for 0
            .setHeader(HttpHeaderName.CONTENT_LENGTH, "0");
    boolean ranged = from > 0 || to < size;
    if (ranged) {
      request.setHeader(RANGE, "bytes=" + from + "-" + (to - 1));
      request.setHeader(RANGE_MD5, "true");
    }
    if (etag != null) {
      request.setHeader(IF_MATCH, "\"" + etag + "\"");
    }
    String what = "GET " + path + (ranged ? " bytes " + from + "-" + (to - 1) : "");
    HttpPipeline pipeline = container.getHttpPipeline();
    try (HttpResponse response = pipeline.sendSync(request, Context.NONE)) {
      int status = response.getStatusCode();
      if (status != 200 && status != 206) {
        throw AzureErrors.status(
            model,
            what,
            credential,
            status,
            response.getHeaderValue(ERROR_CODE),
            retryAfter(response.getHeaderValue(RETRY_AFTER)));
      }
      if (ranged != (status == 206)) {
        throw new RetryableSourceException(
            model.name()
                + " - "
                + what
                + ": answered HTTP "
                + status
                + " (a range was "
                + (ranged ? "" : "not ")
                + "asked for)",
            null);
      }
      byte[] bytes;
      try (InputStream body = response.getBodyAsInputStreamSync()) {
        bytes = body.readNBytes((int) (to - from));
      }
      if (bytes.length != to - from) {
        throw new RetryableSourceException(
            model.name() + " - " + what + ": the answer ended after " + bytes.length + " bytes",
            null);
      }
      checkMd5(model, what, response.getHeaderValue(CONTENT_MD5), bytes);
      return bytes;
    } catch (SourceException e) {
      throw e;
    } catch (IOException e) {
      throw AzureErrors.unreachable(model, what, e);
    } catch (RuntimeException e) {
      throw AzureErrors.failure(model, what, credential, e);
    }
  }

  /**
   * The blob's URL with each '/'-separated segment of its name percent-encoded and the slashes
   * kept, as the Shared Key signature canonicalises it ({@code BlobClient.getBlobUrl()} encodes the
   * slashes too, which Azure then signs differently).
   */
  private String url(String name) {
    StringBuilder url = new StringBuilder(container.getBlobContainerUrl());
    for (String segment : name.split("/", -1)) {
      url.append('/')
          .append(URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20"));
    }
    return url.toString();
  }

  /** A transport check: the bytes have the answer's {@code Content-MD5}, when it gave one. */
  private static void checkMd5(ModelConfig model, String what, @Nullable String md5, byte[] bytes)
      throws RetryableSourceException {
    if (md5 == null || md5.isBlank()) {
      return;
    }
    byte[] actual;
    try {
      actual = MessageDigest.getInstance("MD5").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has MD5", e);
    }
    String expected = ObjectHashes.hex(md5);
    if (!expected.equals(HexFormat.of().formatHex(actual))) {
      throw new RetryableSourceException(
          model.name()
              + " - "
              + what
              + ": Content-MD5 mismatch: the answer says "
              + expected
              + ", the bytes have "
              + HexFormat.of().formatHex(actual)
              + "; damaged in transit (or the blob's Content-MD5 property is wrong): fetching it"
              + " again",
          null);
    }
  }

  private static @Nullable Duration retryAfter(@Nullable String seconds) {
    try {
      return seconds == null ? null : Duration.ofSeconds(Long.parseLong(seconds.strip()));
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
