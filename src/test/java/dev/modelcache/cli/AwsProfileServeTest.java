package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.modelcache.TestModels;
import dev.modelcache.source.s3.S3Server;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The AWS CLI's conventions in a child daemon whose config names no S3 endpoint, region or
 * credentials. An IAM Identity Center (SSO) profile, as {@code aws configure sso} and {@code aws
 * sso login} leave it, serves an S3 model in a child daemon: the profile ({@code AWS_PROFILE} in
 * {@code AWS_CONFIG_FILE}) has an {@code sso_session}, {@code sso_account_id} and {@code
 * sso_role_name}, and a {@code services} section whose {@code s3} and {@code sso} endpoints are the
 * test S3 server and a fake SSO portal on loopback; the token cache under {@code
 * $HOME/.aws/sso/cache} holds a valid access token. The config names no endpoint, no region and no
 * credentials: the AWS SDK finds the S3 endpoint in the profile, trades the cached token for role
 * credentials at the portal ({@code GET /federation/credentials}) and signs with them, which the S3
 * server checks. An expired token fails the model saying to log in again. And {@code
 * AWS_ENDPOINT_URL_S3} wins over {@code AWS_ENDPOINT_URL} and the profile's {@code endpoint_url},
 * both pointing at a closed port.
 */
class AwsProfileServeTest {
  private static final String ACCESS_TOKEN = "sso-access-token-4d2f1c";
  private static final String SESSION_TOKEN = "sso-role-session-token-93be";

  @TempDir Path tmp;
  private S3Server s3;
  private HttpServer portal;
  private final List<String> portalRequests = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    s3 = S3Server.start();
    s3.bucket("models");
    for (String file : List.of("model.pt", "config.json")) {
      s3.put(
          "models",
          "iris/" + file,
          Files.readAllBytes(TestModels.MODELS.resolve("iris").resolve(file)),
          false);
    }
    portal = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    portal.createContext(
        "/federation/credentials",
        exchange -> {
          synchronized (portalRequests) {
            portalRequests.add(
                exchange.getRequestMethod()
                    + " "
                    + exchange.getRequestURI()
                    + " token="
                    + exchange.getRequestHeaders().getFirst("x-amz-sso_bearer_token"));
          }
          boolean valid =
              ACCESS_TOKEN.equals(exchange.getRequestHeaders().getFirst("x-amz-sso_bearer_token"));
          byte[] body =
              (valid
                      ? "{\"roleCredentials\": {\"accessKeyId\": \""
                          + S3Server.IDENTITY
                          + "\", \"secretAccessKey\": \""
                          + S3Server.SECRET
                          + "\", \"sessionToken\": \""
                          + SESSION_TOKEN
                          + "\", \"expiration\": "
                          + Instant.now().plus(Duration.ofHours(1)).toEpochMilli()
                          + "}}"
                      : "{\"message\": \"Session token not found or invalid\"}")
                  .getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(valid ? 200 : 401, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    portal.start();
  }

  @AfterEach
  void stop() {
    if (portal != null) {
      portal.stop(0);
    }
    if (s3 != null) {
      s3.close();
    }
  }

  /**
   * Starts a child daemon serving s3://models/iris with only the SSO profile to go on; the cached
   * token expires at {@code expiresAt}.
   */
  private ChildDaemon serve(Instant expiresAt, boolean required) throws Exception {
    Path home = tmp.resolve("home");
    Path cacheDir = home.resolve(".aws/sso/cache");
    Files.createDirectories(cacheDir);
    // `aws sso login --sso-session corp` names its cache file by the SHA-1 of the session name
    String cacheName =
        HexFormat.of()
                .formatHex(
                    MessageDigest.getInstance("SHA-1")
                        .digest("corp".getBytes(StandardCharsets.UTF_8)))
            + ".json";
    Files.writeString(
        cacheDir.resolve(cacheName),
        "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"us-east-1\","
            + " \"accessToken\": \""
            + ACCESS_TOKEN
            + "\", \"expiresAt\": \""
            + expiresAt
            + "\"}");
    Path awsConfig = tmp.resolve("aws-config");
    Files.writeString(
        awsConfig,
        "[default]\nregion = ap-south-1\n\n"
            + "[profile dev]\n"
            + "sso_session = corp\n"
            + "sso_account_id = 123456789012\n"
            + "sso_role_name = ModelReader\n"
            + "region = eu-west-3\n"
            + "services = loopback\n\n"
            + "[sso-session corp]\n"
            + "sso_start_url = https://corp.awsapps.com/start\n"
            + "sso_region = us-east-1\n"
            + "sso_registration_scopes = sso:account:access\n\n"
            + "[services loopback]\n"
            + "s3 =\n  endpoint_url = "
            + s3.endpoint()
            + "\nsso =\n  endpoint_url = http://127.0.0.1:"
            + portal.getAddress().getPort()
            + "\n");
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  s3:\n    path_style: true\n"
            + "server:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - name: iris\n    source: s3://models/iris\n    required: "
            + required
            + "\n");
    return ChildDaemon.start(
        config,
        Map.of(
            "HOME", home.toString(),
            "AWS_CONFIG_FILE", awsConfig.toString(),
            "AWS_SHARED_CREDENTIALS_FILE", tmp.resolve("no-credentials").toString(),
            "AWS_PROFILE", "dev",
            "LOG_LEVEL", "DEBUG"));
  }

  @Test
  void anSsoProfileWithACachedTokenGetsRoleCredentialsAndTheProfilesEndpoint() throws Exception {
    List<String> lines;
    try (ChildDaemon child = serve(Instant.now().plus(Duration.ofHours(8)), true)) {
      int port = child.awaitReady(Duration.ofSeconds(120));
      try (Response response =
          new OkHttpClient()
              .newCall(
                  new Request.Builder().url("http://127.0.0.1:" + port + "/models/iris").build())
              .execute()) {
        assertThat(response.code()).isEqualTo(200);
        assertThat(response.body().string()).contains("\"state\":\"READY\"");
      }
      child.sigterm();
      assertThat(child.awaitExit(Duration.ofSeconds(30))).isZero();
      lines = child.lines();
    }
    synchronized (portalRequests) {
      assertThat(portalRequests)
          .isNotEmpty()
          .allSatisfy(
              r ->
                  assertThat(r)
                      .startsWith("GET /federation/credentials?")
                      .contains("role_name=ModelReader")
                      .contains("account_id=123456789012")
                      .endsWith(" token=" + ACCESS_TOKEN));
    }
    assertThat(lines)
        .as("no secret in the log at DEBUG")
        .noneMatch(line -> line.contains(ACCESS_TOKEN))
        .noneMatch(line -> line.contains(SESSION_TOKEN))
        .noneMatch(line -> line.contains(S3Server.SECRET));
  }

  @Test
  void anExpiredSsoTokenFailsTheModelSayingToLogInAgain() throws Exception {
    String reason;
    try (ChildDaemon child = serve(Instant.now().minus(Duration.ofHours(1)), false)) {
      int port = child.awaitReady(Duration.ofSeconds(120));
      reason =
          new com.fasterxml.jackson.databind.ObjectMapper()
              .readTree(
                  new OkHttpClient()
                      .newCall(
                          new Request.Builder()
                              .url("http://127.0.0.1:" + port + "/models/iris")
                              .build())
                      .execute()
                      .body()
                      .string())
              .path("reason")
              .asText();
    }
    assertThat(reason)
        .isEqualTo(
            "iris - the IAM Identity Center (SSO) session of the AWS profile has expired or is"
                + " invalid, so there are no credentials for s3://models/iris: run 'aws sso login'"
                + " for that profile (it refreshes the token cached in ~/.aws/sso/cache), then"
                + " fetch again");
    synchronized (portalRequests) {
      assertThat(portalRequests).as("an expired token is not sent").isEmpty();
    }
  }

  @Test
  void theServiceSpecificEndpointVariableWinsOverTheGenericOneAndTheProfile() throws Exception {
    int closed;
    try (java.net.ServerSocket socket =
        new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = socket.getLocalPort();
    }
    Path awsConfig = tmp.resolve("aws-config");
    Files.writeString(
        awsConfig,
        "[profile static]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:" + closed + "\n");
    Path credentials = tmp.resolve("aws-credentials");
    Files.writeString(
        credentials,
        "[static]\naws_access_key_id = "
            + S3Server.IDENTITY
            + "\naws_secret_access_key = "
            + S3Server.SECRET
            + "\n");
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  s3:\n    path_style: true\n"
            + "server:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - name: iris\n    source: s3://models/iris\n");
    try (ChildDaemon child =
        ChildDaemon.start(
            config,
            Map.of(
                "HOME", tmp.resolve("home").toString(),
                "AWS_CONFIG_FILE", awsConfig.toString(),
                "AWS_SHARED_CREDENTIALS_FILE", credentials.toString(),
                "AWS_PROFILE", "static",
                "AWS_ENDPOINT_URL", "http://127.0.0.1:" + closed,
                "AWS_ENDPOINT_URL_S3", s3.endpoint().toString()))) {
      int port = child.awaitReady(Duration.ofSeconds(120));
      try (Response response =
          new OkHttpClient()
              .newCall(
                  new Request.Builder().url("http://127.0.0.1:" + port + "/models/iris").build())
              .execute()) {
        assertThat(response.body().string()).contains("\"state\":\"READY\"");
      }
    }
  }
}
