package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.util.Locale;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * One file of a Hub commit as a {@link SourceFile}: a {@code HEAD} on its resolve URL that follows
 * same-host redirects only, as huggingface_hub does, for its etag (the LFS SHA-256, or the git blob
 * SHA-1 of a plain file) and size, checked to be of the commit asked for.
 */
final class HubDescriber {
  static final Pattern HEX40 = Pattern.compile("[0-9a-f]{40}");
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

  private final HubHttp http;

  HubDescriber(HubHttp http) {
    this.http = http;
  }

  SourceFile describe(ModelConfig model, String kind, String repo, String commit, String path)
      throws IOException {
    HttpUrl url = http.resolveUrl(kind, repo, commit, path);
    Request request = http.authorize(url, new Request.Builder().url(url).head()).build();
    for (int hop = 0; ; hop++) {
      try (Response response = http.execute(model, request, path)) {
        HttpUrl next = sameHostRedirect(request.url(), response);
        if (next != null && hop < HubHttp.MAX_REDIRECTS) {
          request = request.newBuilder().url(next).build();
          continue;
        }
        if (!response.isSuccessful() && !response.isRedirect()) {
          throw HubErrors.error(model, http.config(), response, path + " at " + commit);
        }
        return file(model, commit, path, response);
      }
    }
  }

  /** Where {@code response} redirects to when that is on the host and port asked; else null. */
  private static @Nullable HttpUrl sameHostRedirect(HttpUrl asked, Response response) {
    if (!response.isRedirect() || response.header("Location") == null) {
      return null;
    }
    HttpUrl next = asked.resolve(response.header("Location"));
    return next != null && next.host().equals(asked.host()) && next.port() == asked.port()
        ? next
        : null;
  }

  /** The file the (final) answer to the {@code HEAD} describes. */
  private SourceFile file(ModelConfig model, String commit, String path, Response response)
      throws SourceException {
    String answeredCommit = response.header("X-Repo-Commit");
    if (answeredCommit != null && !answeredCommit.equals(commit)) {
      throw new SourceException(
          model.name()
              + " - the Hub answered "
              + path
              + " of commit "
              + answeredCommit
              + " when commit "
              + commit
              + " was asked for");
    }
    String etag = normaliseEtag(response.header("X-Linked-Etag", response.header("ETag")));
    long size = parseSize(response.header("X-Linked-Size", response.header("Content-Length")));
    if (etag == null || size < 0) {
      throw new SourceException(
          model.name()
              + " - the Hub gave no etag or size for "
              + path
              + " (HTTP "
              + response.code()
              + "); is "
              + http.config().endpoint()
              + " a HuggingFace Hub endpoint?");
    }
    if (HEX64.matcher(etag).matches()) {
      return new SourceFile(path, size, etag, null);
    }
    if (HEX40.matcher(etag).matches()) {
      return new SourceFile(path, size, null, etag);
    }
    throw new SourceException(
        model.name()
            + " - the Hub's etag for "
            + path
            + " ('"
            + HubErrors.truncate(etag)
            + "') is neither a SHA-256 nor a git SHA-1, so the file cannot be verified");
  }

  static @Nullable String normaliseEtag(@Nullable String etag) {
    if (etag == null) {
      return null;
    }
    String value = etag.strip();
    if (value.startsWith("W/")) {
      value = value.substring(2);
    }
    if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
      value = value.substring(1, value.length() - 1);
    }
    return value.toLowerCase(Locale.ROOT);
  }

  private static long parseSize(String value) {
    try {
      return value == null ? -1 : Long.parseLong(value.strip());
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
