package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef.UrlFile;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * The requests of a {@code url} source: redirects followed to any host (nothing secret is sent: no
 * token, no cookies, URLs with credentials refused by the config), bytes asked for as they are
 * stored ({@code Accept-Encoding: identity}), and a failed answer turned into a {@link
 * SourceException} that names the model, the file and the URL without its query string.
 */
final class UrlHttp {
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

  private final OkHttpClient client;

  /** What a file's first answer said: its size, and whether the server serves byte ranges. */
  record Described(long size, boolean ranges) {}

  UrlHttp(OkHttpClient client) {
    this.client =
        client
            .newBuilder()
            .followRedirects(true)
            .followSslRedirects(true)
            .retryOnConnectionFailure(false)
            .cookieJar(okhttp3.CookieJar.NO_COOKIES)
            .addInterceptor(
                chain ->
                    chain.proceed(
                        chain
                            .request()
                            .newBuilder()
                            .header("User-Agent", HuggingFaceSource.USER_AGENT)
                            .header("Accept-Encoding", "identity")
                            .build()))
            .build();
  }

  /**
   * The file's size and range support: from a {@code HEAD}, or, where the server refuses {@code
   * HEAD} or names no length (a signed URL valid for {@code GET} only, a chunked answer), from a
   * {@code GET} of its first byte.
   */
  Described describe(ModelConfig model, UrlFile file) throws IOException {
    Request head = new Request.Builder().url(file.url()).head().build();
    try (Response response = execute(model, file, head)) {
      long length = contentLength(response);
      if (response.isSuccessful() && length >= 0) {
        return new Described(length, "bytes".equalsIgnoreCase(response.header("Accept-Ranges")));
      }
      if (response.code() == 429 || response.code() >= 500) {
        throw error(model, file, response);
      }
    }
    Request probe = new Request.Builder().url(file.url()).header("Range", "bytes=0-0").build();
    try (Response response = execute(model, file, probe)) {
      if (response.code() == 206) {
        Matcher range = CONTENT_RANGE.matcher(response.header("Content-Range", ""));
        if (range.matches() && !range.group(3).equals("*")) {
          return new Described(Long.parseLong(range.group(3)), true);
        }
      } else if (response.code() == 416) {
        return new Described(0, true); // an empty file has no first byte
      } else if (response.isSuccessful() && contentLength(response) >= 0) {
        return new Described(contentLength(response), false);
      } else if (!response.isSuccessful()) {
        throw error(model, file, response);
      }
      throw new SourceException(
          model.name()
              + " - "
              + file.path()
              + ": "
              + file.shown()
              + " says neither its size nor its Content-Range (HTTP "
              + response.code()
              + "): modelcache needs the size to fetch and resume it; serve it with a"
              + " Content-Length");
    }
  }

  /**
   * {@code GET} of the file, with {@code range} (such as {@code bytes=10-99}) when not null; a
   * successful answer, else the mapped failure.
   */
  Response get(ModelConfig model, UrlFile file, @Nullable String range) throws IOException {
    Request.Builder request = new Request.Builder().url(file.url()).get();
    if (range != null) {
      request.header("Range", range);
    }
    Response response = execute(model, file, request.build());
    if (!response.isSuccessful()) {
      try (response) {
        throw error(model, file, response);
      }
    }
    return response;
  }

  private Response execute(ModelConfig model, UrlFile file, Request request) throws IOException {
    try {
      return client.newCall(request).execute();
    } catch (IOException e) {
      throw new RetryableSourceException(
          model.name()
              + " - "
              + file.path()
              + ": cannot reach "
              + request.url().host()
              + ":"
              + request.url().port()
              + " for "
              + file.shown()
              + ": "
              + e.getMessage(),
          null,
          RetryableSourceException.isNoConnection(e));
    }
  }

  private static long contentLength(Response response) {
    String length = response.header("Content-Length");
    try {
      return length == null ? -1 : Long.parseLong(length.strip());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** The failure that {@code response} (not successful) means. */
  static SourceException error(ModelConfig model, UrlFile file, Response response) {
    int status = response.code();
    String what =
        model.name() + " - " + file.path() + ": " + file.shown() + " answered HTTP " + status;
    if (status == 429 || status >= 500) {
      return new RetryableSourceException(what, HubErrors.retryAfter(response));
    }
    if (status == 416) {
      return new RangeNotSatisfiableException(
          what + " (" + response.header("Content-Range", "no Content-Range") + ")");
    }
    String advice =
        switch (status) {
          case 401, 403 ->
              "the server refuses it without credentials, and url sources send none: serve it"
                  + " publicly on the network modelcache runs in, or use a signed URL that has not"
                  + " expired";
          case 404, 410 -> "no such file there: check the URL";
          default -> "check the URL and the server";
        };
    return new SourceException(what + "; " + advice);
  }

  /** Checks that a {@code 206} answer starts at {@code offset}. */
  static void checkRange(ModelConfig model, UrlFile file, Response response, long offset)
      throws RetryableSourceException {
    Matcher range = CONTENT_RANGE.matcher(response.header("Content-Range", ""));
    if (!range.matches() || Long.parseLong(range.group(1)) != offset) {
      throw new RetryableSourceException(
          model.name()
              + " - "
              + file.path()
              + ": asked for bytes from "
              + offset
              + " but got Content-Range '"
              + HubErrors.truncate(response.header("Content-Range", ""))
              + "'",
          null);
    }
  }
}
