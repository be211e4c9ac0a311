package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.Config.HfConfig;
import dev.modelcache.config.ModelConfig;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The HuggingFace Hub ({@code hf://org/name[@revision]}), spoken as the official {@code
 * huggingface_hub} client does: the revision is resolved to a commit ({@code
 * /api/models/{repo}/revision/{rev}}), files are listed with the tree API (following {@code Link:
 * rel="next"} pages), each file's etag, size and commit come from a {@code HEAD} on its resolve URL
 * that follows only same-host redirects, and bytes from a {@code GET} that follows redirects to the
 * CDN's other host, resumed with {@code Range}. The token is sent as {@code Authorization: Bearer}
 * to the endpoint's host only, and never appears in a message.
 *
 * <p>Failures that may pass (429, 5xx, a cut connection) are {@link RetryableSourceException}s; the
 * fetch layer retries them. The others say what to do.
 *
 * <p>This class resolves the revision and reads the bytes; {@link HubHttp} builds and sends the
 * requests, {@link HubListing} lists a commit, {@link HubDescriber} describes each file and {@link
 * HubErrors} says what a failure means.
 */
public final class HuggingFaceSource implements ModelSource {
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

  /**
   * Sent with every request, as the Hub's own clients name themselves: {@code modelcache/{version};
   * java/{version}}, the version from the jar's manifest ({@code dev} when run from classes).
   */
  public static final String USER_AGENT =
      "modelcache/"
          + Objects.requireNonNullElse(
              HuggingFaceSource.class.getPackage().getImplementationVersion(), "dev")
          + "; java/"
          + System.getProperty("java.version");

  private final HfConfig config;
  private final HubHttp http;
  private final HubDescriber describer;

  /**
   * @param client an OkHttp client, which the caller owns and closes; its redirect following is
   *     turned off here, since redirects are followed by hand to keep the token on the endpoint's
   *     host
   */
  public HuggingFaceSource(HfConfig config, OkHttpClient client) {
    this.config = config;
    this.http = new HubHttp(config, client);
    this.describer = new HubDescriber(http);
  }

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    String repo = model.source().location();
    String kind = model.source().repoType() + "s";
    String commit = commit(model, kind);
    HubListing.Listing listing = HubListing.list(http, model, kind, commit);
    if (listing.paths().isEmpty()) {
      throw new SourceException(
          model.name()
              + " - "
              + repo
              + " at "
              + commit
              + " has no files"
              + (model.include().isEmpty() && model.exclude().isEmpty()
                  ? ""
                  : " matching include/exclude"));
    }
    List<SourceFile> files = new ArrayList<>();
    for (String path : listing.paths()) {
      files.add(describer.describe(model, kind, repo, commit, path));
    }
    return new Snapshot(commit, files, listing.tree());
  }

  /** The commit the model's branch or tag names now: one request, no listing. */
  @Override
  public String upstreamRevision(ModelConfig model) throws IOException {
    return commit(model, model.source().repoType() + "s");
  }

  /** The commit the model's revision (a branch, tag or commit) names now. */
  private String commit(ModelConfig model, String kind) throws IOException {
    String repo = model.source().location();
    String revision = model.source().revision();
    JsonNode info =
        http.getJson(
            model,
            http.api(kind, repo).addPathSegment("revision").addPathSegment(revision).build(),
            "revision " + revision);
    String commit = info.path("sha").asText("");
    if (!HubDescriber.HEX40.matcher(commit).matches()) {
      throw new SourceException(
          model.name()
              + " - the Hub answered no commit for revision '"
              + revision
              + "' of "
              + repo
              + " (got '"
              + HubErrors.truncate(commit)
              + "'); is "
              + config.endpoint()
              + " a HuggingFace Hub endpoint?");
    }
    return commit;
  }

  /**
   * Nothing to release: the HTTP client, whose connections and threads this source shares, is its
   * caller's to close.
   */
  @Override
  public void close() {}

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    String repo = model.source().location();
    String kind = model.source().repoType() + "s";
    String commit = Objects.requireNonNull(snapshot.revision(), "a Hub snapshot has its commit");
    HttpUrl url = http.resolveUrl(kind, repo, commit, file.path());
    Request.Builder request = http.authorize(url, new Request.Builder().url(url).get());
    boolean partial = offset > 0 || end < file.size();
    if (partial) {
      request.header("Range", "bytes=" + offset + "-" + (end - 1));
    }
    Response response = http.call(model, request.build(), true, file.path());
    try {
      ResponseBody body = response.body();
      InputStream in = body.byteStream();
      if (partial && response.code() == 206) {
        Matcher range = CONTENT_RANGE.matcher(response.header("Content-Range", ""));
        if (!range.matches() || Long.parseLong(range.group(1)) != offset) {
          throw new RetryableSourceException(
              model.name()
                  + " - "
                  + file.path()
                  + ": asked for bytes from "
                  + offset
                  + " but got Content-Range '"
                  + response.header("Content-Range")
                  + "'",
              null);
        }
      } else if (partial) {
        // the server ignored Range: read past what we already have, and stop at the range's end
        in.skipNBytes(offset);
        in = new LimitedInputStream(in, end - offset);
      }
      return new FilterInputStream(in) {
        @Override
        public void close() throws IOException {
          response.close();
        }
      };
    } catch (IOException | RuntimeException e) {
      response.close();
      throw e;
    }
  }
}
