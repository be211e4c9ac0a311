package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config.OciConfig;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.Credentials;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * The requests of an {@code oci://} source to a registry (the OCI distribution spec's {@code
 * /v2/{repository}/manifests|blobs/{reference}}): {@code https://}, or plain {@code http://} for a
 * loopback registry or one that {@code sources.oci.plain_http} lists; on a {@code 401}, the
 * challenge's {@code Bearer} token (asked of its realm with the registry's login from Docker's
 * {@code config.json}, if any) or {@code Basic} login, then the request once more. Tokens are kept
 * per repository. Redirects (blob storage) are followed to any host, and OkHttp drops {@code
 * Authorization} when one leaves the registry's host. No credential or token is logged or put in a
 * message.
 */
final class OciHttp {
  private static final Pattern PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");

  private final OkHttpClient client;
  private final OciConfig config;
  private final OciCredentials credentials;
  private final ObjectMapper json = new ObjectMapper();

  /** Per {@code registry/repository}, the {@code Authorization} value that last worked. */
  private final Map<String, String> authorizations = new ConcurrentHashMap<>();

  OciHttp(OciConfig config, OkHttpClient client, Map<String, String> env) {
    this.config = config;
    this.credentials = new OciCredentials(config.dockerConfig(), env);
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

  /** {@code {scheme}://{registry}/v2/{repository}/{kind}/{reference}}. */
  HttpUrl url(String location, String kind, String reference) {
    int slash = location.indexOf('/');
    String registry = location.substring(0, slash);
    HttpUrl base = HttpUrl.parse((plainHttp(registry) ? "http://" : "https://") + registry);
    if (base == null) {
      throw new IllegalArgumentException("not a registry: " + registry);
    }
    return base.newBuilder()
        .addPathSegment("v2")
        .addPathSegments(location.substring(slash + 1))
        .addPathSegment(kind)
        .addPathSegment(reference)
        .build();
  }

  /** Whether {@code registry} is reached over plain http: loopback, or listed in the config. */
  boolean plainHttp(String registry) {
    String host = registry.replaceFirst(":\\d+$", "").replace("[", "").replace("]", "");
    return host.equals("localhost")
        || host.startsWith("127.")
        || host.equals("::1")
        || config.plainHttp().stream().anyMatch(r -> r.equalsIgnoreCase(registry));
  }

  /**
   * Sends {@code request} for {@code model} (authorized as its repository was last), answering a
   * {@code 401} challenge once; a successful response, else the mapped failure.
   */
  Response send(ModelConfig model, Request request, String what) throws IOException {
    String location = model.source().location();
    String authorization = authorizations.get(location);
    Response response = execute(model, withAuthorization(request, authorization), what);
    if (response.code() == 401) {
      String challenge = response.header("WWW-Authenticate", "");
      response.close();
      authorization = answer(model, challenge, what);
      authorizations.put(location, authorization);
      response = execute(model, withAuthorization(request, authorization), what);
    }
    if (!response.isSuccessful()) {
      try (Response failed = response) {
        throw OciErrors.error(model, failed, what, credentials.origin());
      }
    }
    return response;
  }

  private static Request withAuthorization(Request request, @Nullable String authorization) {
    return authorization == null
        ? request
        : request.newBuilder().header("Authorization", authorization).build();
  }

  private Response execute(ModelConfig model, Request request, String what) throws IOException {
    try {
      return client.newCall(request).execute();
    } catch (IOException e) {
      throw new RetryableSourceException(
          model.name()
              + " - cannot reach "
              + request.url().host()
              + ":"
              + request.url().port()
              + " for "
              + what
              + ": "
              + e.getMessage(),
          null,
          RetryableSourceException.isNoConnection(e));
    }
  }

  /** The {@code Authorization} that answers {@code challenge} ({@code Bearer} or {@code Basic}). */
  private String answer(ModelConfig model, String challenge, String what) throws IOException {
    String location = model.source().location();
    String registry = location.substring(0, location.indexOf('/'));
    OciCredentials.Login login;
    try {
      login = credentials.lookup(registry);
    } catch (SourceException e) {
      throw new SourceException(model.name() + " - " + e.getMessage());
    }
    String scheme = challenge.strip().split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
    if (scheme.equals("basic")) {
      if (login == null) {
        throw OciErrors.noLogin(model, registry, what, credentials.origin());
      }
      return Credentials.basic(login.user(), login.password().reveal());
    }
    if (!scheme.equals("bearer")) {
      throw new SourceException(
          model.name()
              + " - "
              + registry
              + " asked for credentials for "
              + what
              + " without a Bearer or Basic challenge ('"
              + HubErrors.truncate(scheme)
              + "'): modelcache cannot log in to it");
    }
    Map<String, String> params = new LinkedHashMap<>();
    Matcher m = PARAM.matcher(challenge);
    while (m.find()) {
      params.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2));
    }
    return "Bearer " + token(model, registry, params, login, what);
  }

  /** A token from the challenge's realm, asked with {@code login} when there is one. */
  private String token(
      ModelConfig model,
      String registry,
      Map<String, String> params,
      OciCredentials.@Nullable Login login,
      String what)
      throws IOException {
    HttpUrl realm = HttpUrl.parse(params.getOrDefault("realm", ""));
    if (realm == null) {
      throw new SourceException(
          model.name() + " - " + registry + "'s Bearer challenge names no usable realm");
    }
    if (login != null && !realm.isHttps() && !plainHttp(realm.host() + ":" + realm.port())) {
      throw new SourceException(
          model.name()
              + " - "
              + registry
              + " asks for a token from "
              + realm.host()
              + " over plain http: modelcache sends no login there (list it in"
              + " sources.oci.plain_http if that is intended)");
    }
    HttpUrl.Builder url = realm.newBuilder();
    if (params.containsKey("service")) {
      url.addQueryParameter("service", params.get("service"));
    }
    String repository = model.source().location().substring(registry.length() + 1);
    url.addQueryParameter(
        "scope", params.getOrDefault("scope", "repository:" + repository + ":pull"));
    Request.Builder request = new Request.Builder().url(url.build()).get();
    if (login != null) {
      request.header("Authorization", Credentials.basic(login.user(), login.password().reveal()));
    }
    try (Response response = execute(model, request.build(), "a token for " + what)) {
      if (!response.isSuccessful()) {
        throw OciErrors.tokenRefused(
            model, registry, response, login != null, credentials.origin());
      }
      JsonNode body = json.readTree(response.body().byteStream());
      String token = body.path("token").asText(body.path("access_token").asText(""));
      if (token.isBlank()) {
        throw new SourceException(
            model.name() + " - the token service of " + registry + " answered without a token");
      }
      return token;
    }
  }
}
