package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config.HfConfig;
import dev.modelcache.config.ModelConfig;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
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
 */
public final class HuggingFaceSource implements ModelSource {
  private static final int MAX_REDIRECTS = 10;
  private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
  private static final Pattern HEX40 = Pattern.compile("[0-9a-f]{40}");
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

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

  private final HttpUrl endpoint;
  private final HfConfig config;
  private final OkHttpClient client;
  private final ObjectMapper json = new ObjectMapper();

  /**
   * @param client an OkHttp client; its redirect following is turned off here, since redirects are
   *     followed by hand to keep the token on the endpoint's host
   */
  public HuggingFaceSource(HfConfig config, OkHttpClient client) {
    this.config = config;
    HttpUrl parsed = HttpUrl.parse(config.endpoint());
    if (parsed == null) {
      throw new IllegalArgumentException(
          "sources.hf.endpoint (" + config.endpoint() + ") is not an http(s) URL");
    }
    this.endpoint = parsed;
    this.client =
        client
            .newBuilder()
            .followRedirects(false)
            .followSslRedirects(false)
            .retryOnConnectionFailure(false)
            .addInterceptor(
                chain ->
                    chain.proceed(
                        chain.request().newBuilder().header("User-Agent", USER_AGENT).build()))
            .build();
  }

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    String repo = model.source().location();
    String kind = model.source().repoType() + "s";
    String revision = model.source().revision();
    JsonNode info =
        getJson(
            model,
            api(kind, repo).addPathSegment("revision").addPathSegment(revision).build(),
            "revision " + revision);
    String commit = info.path("sha").asText("");
    if (!HEX40.matcher(commit).matches()) {
      throw new SourceException(
          model.name()
              + " - the Hub answered no commit for revision '"
              + revision
              + "' of "
              + repo
              + " (got '"
              + truncate(commit)
              + "'); is "
              + config.endpoint()
              + " a HuggingFace Hub endpoint?");
    }
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<String> paths = new ArrayList<>();
    List<TreeFile> tree = new ArrayList<>();
    HttpUrl page =
        api(kind, repo)
            .addPathSegment("tree")
            .addPathSegment(commit)
            .addQueryParameter("recursive", "true")
            .addQueryParameter("expand", "false")
            .build();
    Set<HttpUrl> seen = new HashSet<>();
    while (page != null) {
      if (!seen.add(page)) {
        throw new SourceException(
            model.name()
                + " - the Hub's tree listing of "
                + repo
                + " links back to a page"
                + " already read; stopping");
      }
      try (Response response = call(model, get(page), true, "the file list")) {
        JsonNode entries = json.readTree(response.body().byteStream());
        if (!entries.isArray()) {
          throw new SourceException(
              model.name() + " - the Hub's file list of " + repo + " is not a JSON array");
        }
        for (JsonNode entry : entries) {
          if ("file".equals(entry.path("type").asText())) {
            String path = entry.path("path").asText();
            if (SourceFile.escapes(path)) {
              // refused before any request: resolving it would ask the Hub for another URL
              throw new SourceException(
                  model.name()
                      + " - refusing the Hub's file list of "
                      + repo
                      + " at "
                      + commit
                      + ": file path '"
                      + path.replaceAll("\\p{Cntrl}", "?")
                      + "' is absolute or has '..', '.' or empty segments or control characters, and"
                      + " could escape the model's folder; nothing was downloaded: report it to the"
                      + " repository's owner or the Hub's operator");
            }
            tree.add(treeFile(entry, path));
            if (patterns.matches(path)) {
              paths.add(path);
            }
          }
        }
        page = nextPage(response, page);
      }
    }
    if (paths.isEmpty()) {
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
    for (String path : paths) {
      files.add(describe(model, kind, repo, commit, path));
    }
    return new Snapshot(commit, files, tree);
  }

  /** A tree API entry as huggingface_hub caches it ({@code RepoFile}: oid, size, lfs, xetHash). */
  private static TreeFile treeFile(JsonNode entry, String path) {
    JsonNode lfs = entry.path("lfs");
    boolean isLfs = lfs.isObject() && lfs.hasNonNull("oid");
    return new TreeFile(
        path,
        entry.path("size").asLong(),
        entry.path("oid").asText(),
        isLfs ? lfs.path("oid").asText() : null,
        isLfs ? lfs.path("size").asLong() : null,
        entry.hasNonNull("xetHash") ? entry.path("xetHash").asText() : null);
  }

  /**
   * HEAD on the file's resolve URL, following same-host redirects only, as huggingface_hub does.
   */
  private SourceFile describe(
      ModelConfig model, String kind, String repo, String commit, String path) throws IOException {
    HttpUrl url = resolveUrl(kind, repo, commit, path);
    Request request = authorize(url, new Request.Builder().url(url).head()).build();
    for (int hop = 0; ; hop++) {
      Response answer;
      try {
        answer = client.newCall(request).execute();
      } catch (IOException e) {
        throw unreachable(model, request.url(), path, e);
      }
      try (Response response = answer) {
        boolean sameHost = false;
        HttpUrl next = null;
        if (response.isRedirect() && response.header("Location") != null) {
          next = request.url().resolve(response.header("Location"));
          sameHost =
              next != null
                  && next.host().equals(request.url().host())
                  && next.port() == request.url().port();
        }
        if (response.isRedirect() && sameHost && hop < MAX_REDIRECTS) {
          request = request.newBuilder().url(next).build();
          continue;
        }
        if (!response.isSuccessful() && !response.isRedirect()) {
          throw error(model, response, path + " at " + commit);
        }
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
                  + config.endpoint()
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
                + truncate(etag)
                + "') is neither a SHA-256 nor a git SHA-1, so the file cannot be verified");
      }
    }
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    String repo = model.source().location();
    String kind = model.source().repoType() + "s";
    HttpUrl url = resolveUrl(kind, repo, snapshot.revision(), file.path());
    Request.Builder request = authorize(url, new Request.Builder().url(url).get());
    boolean partial = offset > 0 || end < file.size();
    if (partial) {
      request.header("Range", "bytes=" + offset + "-" + (end - 1));
    }
    Response response = call(model, request.build(), true, file.path());
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

  private HttpUrl.Builder api(String kind, String repo) {
    return endpoint.newBuilder().addPathSegment("api").addPathSegment(kind).addPathSegments(repo);
  }

  private HttpUrl resolveUrl(String kind, String repo, String commit, String path) {
    HttpUrl.Builder url = endpoint.newBuilder();
    if (kind.equals("datasets")) {
      url.addPathSegment("datasets");
    }
    return url.addPathSegments(repo)
        .addPathSegment("resolve")
        .addPathSegment(commit)
        .addPathSegments(path)
        .build();
  }

  private Request get(HttpUrl url) {
    return authorize(url, new Request.Builder().url(url).get()).build();
  }

  /**
   * Adds the token when {@code url} is on the endpoint's host: a tree page ({@code Link}) or a
   * redirect may lead anywhere, and the token is for the endpoint alone.
   */
  private Request.Builder authorize(HttpUrl url, Request.Builder request) {
    if (config.token() != null && onEndpoint(url)) {
      request.header("Authorization", "Bearer " + config.token().reveal());
    } else {
      request.removeHeader("Authorization");
    }
    return request;
  }

  /** Same scheme, host name and port as the endpoint (another name of the same address is not). */
  private boolean onEndpoint(HttpUrl url) {
    return url.scheme().equals(endpoint.scheme())
        && url.host().equals(endpoint.host())
        && url.port() == endpoint.port();
  }

  private JsonNode getJson(ModelConfig model, HttpUrl url, String what) throws IOException {
    try (Response response = call(model, get(url), true, what)) {
      return json.readTree(response.body().byteStream());
    }
  }

  /**
   * Sends {@code request}, following redirects by hand (the token is dropped once a redirect leaves
   * the endpoint's host), and returns a successful response or throws the mapped error.
   */
  private Response call(ModelConfig model, Request request, boolean follow, String what)
      throws IOException {
    Set<HttpUrl> visited = new HashSet<>();
    for (int hop = 0; ; hop++) {
      Response response;
      try {
        response = client.newCall(request).execute();
      } catch (IOException e) {
        throw unreachable(model, request.url(), what, e);
      }
      if (!(follow && response.isRedirect())) {
        if (!response.isSuccessful()) {
          try (response) {
            throw error(model, response, what);
          }
        }
        return response;
      }
      String location = response.header("Location");
      response.close();
      HttpUrl next = location == null ? null : request.url().resolve(location);
      if (next == null) {
        throw new SourceException(
            model.name()
                + " - the Hub redirected "
                + what
                + " (HTTP "
                + response.code()
                + ") without a usable Location");
      }
      if (!visited.add(next) || hop >= MAX_REDIRECTS) {
        throw new SourceException(
            model.name()
                + " - "
                + (hop >= MAX_REDIRECTS
                    ? "more than " + MAX_REDIRECTS + " redirects"
                    : "a redirect loop")
                + " while fetching "
                + what
                + " (last to "
                + next.host()
                + ":"
                + next.port()
                + next.encodedPath()
                + ")");
      }
      Request.Builder builder = request.newBuilder().url(next);
      if (!onEndpoint(next)) {
        builder.removeHeader("Authorization");
      }
      request = builder.build();
    }
  }

  private static RetryableSourceException unreachable(
      ModelConfig model, HttpUrl url, String what, IOException e) {
    return new RetryableSourceException(
        model.name()
            + " - cannot reach "
            + url.host()
            + ":"
            + url.port()
            + " for "
            + what
            + ": "
            + e.getMessage(),
        null,
        RetryableSourceException.isNoConnection(e));
  }

  private SourceException error(ModelConfig model, Response response, String what) {
    int status = response.code();
    String code = response.header("X-Error-Code", "");
    String serverMessage = response.header("X-Error-Message");
    String repo = model.source().location();
    String name = model.name() + " - ";
    if (status == 429 || status >= 500) {
      return new RetryableSourceException(
          name
              + "the Hub answered HTTP "
              + status
              + " for "
              + what
              + (serverMessage == null ? "" : " (" + truncate(serverMessage) + ")"),
          retryAfter(response));
    }
    if (status == 416) {
      return new RangeNotSatisfiableException(
          name
              + "the Hub has no bytes in the range asked for "
              + what
              + " (HTTP 416, "
              + response.header("Content-Range", "no Content-Range")
              + ")");
    }
    boolean token = config.token() != null;
    return new SourceException(
        switch (code) {
          case "RepoNotFound" ->
              name
                  + "repository "
                  + repo
                  + " not found on "
                  + config.endpoint()
                  + " (HTTP "
                  + status
                  + "): check the name in "
                  + model.source()
                  + (token
                      ? ", and that the token in HF_TOKEN can read it"
                      : "; if it is private, set HF_TOKEN to a token that can read it");
          case "RevisionNotFound" ->
              name
                  + "revision '"
                  + model.source().revision()
                  + "' not found in "
                  + repo
                  + ": check the branch, tag or commit after '@' in "
                  + model.source();
          case "EntryNotFound" ->
              name + what + ": no such file in " + repo + " (HTTP " + status + ")";
          case "GatedRepo" ->
              name
                  + repo
                  + " is gated: accept its conditions on "
                  + config.endpoint()
                  + "/"
                  + repo
                  + " while logged in, then set HF_TOKEN to a token of that account"
                  + (token ? " (the current token has no access yet)" : "");
          default ->
              status == 401
                  ? name
                      + (token
                          ? "the Hub rejected the token in HF_TOKEN (HTTP 401) for "
                              + what
                              + ": check or renew it"
                          : "the Hub needs a token for "
                              + what
                              + " of "
                              + repo
                              + " (HTTP 401): set HF_TOKEN")
                  : status == 403
                      ? name
                          + "the Hub denied access to "
                          + what
                          + " of "
                          + repo
                          + " (HTTP 403): check that the token in"
                          + " HF_TOKEN can read it"
                      : name
                          + "the Hub answered HTTP "
                          + status
                          + " for "
                          + what
                          + " of "
                          + repo
                          + (serverMessage == null ? "" : ": " + truncate(serverMessage));
        });
  }

  static Duration retryAfter(Response response) {
    String value = response.header("Retry-After");
    if (value == null) {
      return null;
    }
    try {
      return Duration.ofSeconds(Long.parseLong(value.strip()));
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(value.strip(), DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration wait = Duration.between(ZonedDateTime.now(at.getZone()), at);
        return wait.isNegative() ? Duration.ZERO : wait;
      } catch (DateTimeParseException e) {
        return null;
      }
    }
  }

  private static HttpUrl nextPage(Response response, HttpUrl current) {
    for (String link : response.headers("Link")) {
      Matcher next = NEXT_LINK.matcher(link);
      if (next.find()) {
        return current.resolve(next.group(1));
      }
    }
    return null;
  }

  static String normaliseEtag(String etag) {
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

  private static String truncate(String text) {
    String clean = text.replaceAll("\\p{Cntrl}", " ");
    return clean.length() <= 200 ? clean : clean.substring(0, 200) + "...";
  }
}
