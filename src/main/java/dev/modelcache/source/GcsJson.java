package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * The requests of Cloud Storage's JSON API: listing a prefix ({@code GET /storage/v1/b/{bucket}/o},
 * page by page), and reading an object's bytes ({@code alt=media}) pinned to its listed generation,
 * with a {@code Range} for resume and parallel parts. Each request carries the token of {@link
 * GcsAuth}; each failure becomes a {@link SourceException} naming the model and the object (a
 * {@link RetryableSourceException} for 408, 429, 5xx and an unreachable endpoint).
 */
final class GcsJson {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
  private static final int MAX_SIDECAR_BYTES = 4096;
  private static final int MAX_LOCK_BYTES = 16 << 20;

  private final OkHttpClient client;
  private final String endpoint;
  private final GcsAuth auth;

  /** An object of a listing: its name under the prefix and its metadata. */
  record Listed(String path, JsonNode metadata) {}

  GcsJson(OkHttpClient client, String endpoint, GcsAuth auth) {
    this.client = client.newBuilder().retryOnConnectionFailure(false).build();
    this.endpoint = endpoint;
    this.auth = auth;
  }

  /** Every object under {@code prefix} of {@code bucket}, by path relative to the prefix. */
  Map<String, Listed> list(ModelConfig model, String bucket, String prefix) throws IOException {
    Map<String, Listed> listed = new LinkedHashMap<>();
    String pageToken = null;
    for (int page = 0; page < 100_000; page++) {
      String url =
          endpoint
              + "/storage/v1/b/"
              + encode(bucket)
              + "/o?prefix="
              + encode(prefix)
              + (pageToken == null ? "" : "&pageToken=" + encode(pageToken));
      JsonNode answer;
      try (Response response = execute(model, "list " + model.source(), get(model, url))) {
        answer = JSON.readTree(response.body().byteStream());
      }
      for (JsonNode item : answer.path("items")) {
        String name = item.path("name").asText();
        if (name.startsWith(prefix) && !name.endsWith("/")) {
          String path = name.substring(prefix.length());
          listed.put(path, new Listed(path, item));
        }
      }
      pageToken = answer.path("nextPageToken").asText(null);
      if (pageToken == null || pageToken.isEmpty()) {
        return listed;
      }
    }
    throw new SourceException(model.name() + " - listing " + model.source() + " never ended");
  }

  /** The first line of a {@code .sha256} sidecar object, which must start with 64 hex digits. */
  String sidecar(ModelConfig model, String bucket, String name, String path) throws IOException {
    try (Response response = media(model, bucket, name, path, null, 0, -1)) {
      byte[] bytes = response.body().byteStream().readNBytes(MAX_SIDECAR_BYTES);
      String text = new String(bytes, StandardCharsets.UTF_8).strip();
      String first = text.isEmpty() ? "" : text.split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
      if (!S3Listing.HEX64.matcher(first).matches()) {
        throw new SourceException(
            model.name()
                + " - the sidecar object "
                + path
                + " of "
                + model.source()
                + " does not start with a SHA-256 (64 hex digits, as sha256sum writes it); fix or"
                + " delete it");
      }
      return first;
    }
  }

  /** The bytes of the bucket's {@code modelcache.lock} object {@code name}, at most 16 MiB. */
  byte[] lock(ModelConfig model, String bucket, String name) throws IOException {
    try (Response response = media(model, bucket, name, S3Source.LOCK_OBJECT, null, 0, -1)) {
      byte[] bytes = response.body().byteStream().readNBytes(MAX_LOCK_BYTES + 1);
      if (bytes.length > MAX_LOCK_BYTES) {
        throw new SourceException(
            model.name()
                + " - the bucket's "
                + S3Source.LOCK_OBJECT
                + " at "
                + model.source()
                + " is over 16 MiB, which no lockfile of a model is; mirror the model again or"
                + " delete it");
      }
      return bytes;
    }
  }

  /**
   * Bytes {@code [offset, end)} of object {@code name} (shown as {@code path}) at {@code
   * generation} when not null; {@code end} -1 for all of it. A successful answer, 206 for a range.
   */
  Response media(
      ModelConfig model,
      String bucket,
      String name,
      String path,
      @Nullable String generation,
      long offset,
      long end)
      throws IOException {
    String url =
        endpoint
            + "/storage/v1/b/"
            + encode(bucket)
            + "/o/"
            + encode(name)
            + "?alt=media"
            + (generation == null ? "" : "&generation=" + encode(generation));
    Request.Builder request = get(model, url).newBuilder().header("Accept-Encoding", "identity");
    boolean ranged = end >= 0;
    if (ranged) {
      request.header("Range", "bytes=" + offset + "-" + (end - 1));
    }
    String what = "GET " + path + (ranged ? " bytes " + offset + "-" + (end - 1) : "");
    Response response = execute(model, what, request.build());
    if (ranged && response.code() != 206) {
      response.close();
      throw new RetryableSourceException(
          model.name() + " - " + what + ": answered HTTP " + response.code() + " to a range", null);
    }
    if (ranged) {
      Matcher range = CONTENT_RANGE.matcher(response.header("Content-Range", ""));
      if (!range.matches() || Long.parseLong(range.group(1)) != offset) {
        response.close();
        throw new RetryableSourceException(
            model.name()
                + " - "
                + what
                + ": answered Content-Range '"
                + HubErrors.truncate(response.header("Content-Range", ""))
                + "'",
            null);
      }
    }
    return response;
  }

  private Request get(ModelConfig model, String url) throws IOException {
    Request.Builder request =
        new Request.Builder().url(url).header("User-Agent", HuggingFaceSource.USER_AGENT);
    String authorization = auth.authorization(model);
    if (authorization != null) {
      request.header("Authorization", authorization);
    }
    return request.build();
  }

  /** The answer when it is a success; else the failure it means. */
  private Response execute(ModelConfig model, String what, Request request) throws IOException {
    Response response;
    try {
      response = client.newCall(request).execute();
    } catch (IOException e) {
      throw new RetryableSourceException(
          model.name()
              + " - "
              + what
              + ": cannot reach "
              + request.url().host()
              + ":"
              + request.url().port()
              + ": "
              + e.getMessage(),
          null,
          RetryableSourceException.isNoConnection(e));
    }
    if (response.isSuccessful()) {
      return response;
    }
    try (response) {
      throw error(model, what, response);
    }
  }

  private SourceException error(ModelConfig model, String what, Response response)
      throws IOException {
    int status = response.code();
    String reason = reason(response);
    String message =
        model.name() + " - " + what + " of " + model.source() + ": HTTP " + status + reason;
    if (status == 408 || status == 429 || status >= 500) {
      return new RetryableSourceException(message, HubErrors.retryAfter(response));
    }
    if (status == 416) {
      return new RangeNotSatisfiableException(message);
    }
    String advice =
        switch (status) {
          case 401 -> "the token of " + auth.origin() + " was refused: check the credentials";
          case 403 ->
              "the identity of "
                  + auth.origin()
                  + " may not read this bucket: grant it roles/storage.objectViewer";
          case 404 ->
              "no such bucket or object (an object replaced since it was listed is gone at its"
                  + " listed generation): check the gs:// URL, and fetch again";
          default -> "check the gs:// URL and the endpoint";
        };
    return new SourceException(message + "; " + advice);
  }

  /** The JSON error's message, shortened, or "". */
  private static String reason(Response response) throws IOException {
    String body = new String(response.body().byteStream().readNBytes(2048), StandardCharsets.UTF_8);
    try {
      String text = JSON.readTree(body).path("error").path("message").asText("");
      return text.isEmpty() ? "" : " (" + HubErrors.truncate(text) + ")";
    } catch (IOException e) {
      return "";
    }
  }

  static String encode(String text) {
    return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** The listed objects that are files of the model: not sidecars, matching include/exclude. */
  static List<Listed> files(ModelConfig model, Map<String, Listed> listed) {
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<Listed> files = new ArrayList<>();
    for (Listed object : listed.values()) {
      String path = object.path();
      boolean sidecar =
          path.endsWith(S3Source.SIDECAR_SUFFIX)
              && listed.containsKey(
                  path.substring(0, path.length() - S3Source.SIDECAR_SUFFIX.length()));
      if (!sidecar && !path.equals(S3Source.LOCK_OBJECT) && patterns.matches(path)) {
        files.add(object);
      }
    }
    return files;
  }
}
