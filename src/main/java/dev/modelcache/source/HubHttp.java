package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config.HfConfig;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.util.HashSet;
import java.util.Set;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * The Hub's URLs and requests: the API and resolve URLs of a repository, the token sent to the
 * endpoint's host only, and redirects followed by hand so that the token never leaves that host.
 */
final class HubHttp {
  static final int MAX_REDIRECTS = 10;

  private final HttpUrl endpoint;
  private final HfConfig config;
  private final OkHttpClient client;
  private final ObjectMapper json = new ObjectMapper();

  /**
   * @param client an OkHttp client; its redirect following is turned off here, since redirects are
   *     followed by hand to keep the token on the endpoint's host
   */
  HubHttp(HfConfig config, OkHttpClient client) {
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
                        chain
                            .request()
                            .newBuilder()
                            .header("User-Agent", HuggingFaceSource.USER_AGENT)
                            .build()))
            .build();
  }

  HfConfig config() {
    return config;
  }

  ObjectMapper json() {
    return json;
  }

  /** {@code {endpoint}/api/{kind}/{repo}}. */
  HttpUrl.Builder api(String kind, String repo) {
    return endpoint.newBuilder().addPathSegment("api").addPathSegment(kind).addPathSegments(repo);
  }

  /** The URL a file's bytes are read from: {@code {endpoint}[/datasets]/{repo}/resolve/...}. */
  HttpUrl resolveUrl(String kind, String repo, String commit, String path) {
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

  Request get(HttpUrl url) {
    return authorize(url, new Request.Builder().url(url).get()).build();
  }

  /**
   * Adds the token when {@code url} is on the endpoint's host: a tree page ({@code Link}) or a
   * redirect may lead anywhere, and the token is for the endpoint alone.
   */
  Request.Builder authorize(HttpUrl url, Request.Builder request) {
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

  JsonNode getJson(ModelConfig model, HttpUrl url, String what) throws IOException {
    try (Response response = call(model, get(url), true, what)) {
      return json.readTree(response.body().byteStream());
    }
  }

  /** Sends {@code request} once; an unreachable host is a {@link RetryableSourceException}. */
  Response execute(ModelConfig model, Request request, String what) throws IOException {
    try {
      return client.newCall(request).execute();
    } catch (IOException e) {
      throw HubErrors.unreachable(model, request.url(), what, e);
    }
  }

  /**
   * Sends {@code request}, following redirects by hand (the token is dropped once a redirect leaves
   * the endpoint's host), and returns a successful response or throws the mapped error.
   */
  Response call(ModelConfig model, Request request, boolean follow, String what)
      throws IOException {
    Set<HttpUrl> visited = new HashSet<>();
    for (int hop = 0; ; hop++) {
      Response response = execute(model, request, what);
      if (!(follow && response.isRedirect())) {
        if (!response.isSuccessful()) {
          try (response) {
            throw HubErrors.error(model, config, response, what);
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
        throw tooManyRedirects(model, what, next, hop);
      }
      Request.Builder builder = request.newBuilder().url(next);
      if (!onEndpoint(next)) {
        builder.removeHeader("Authorization");
      }
      request = builder.build();
    }
  }

  private static SourceException tooManyRedirects(
      ModelConfig model, String what, HttpUrl next, int hop) {
    return new SourceException(
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
}
