package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.chaos.Chaos;
import dev.modelcache.source.s3.S3Server;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An S3 outage on the command line: with the endpoint's port closed, {@code fetch} of a model
 * fetched before exits 0 and leaves {@code modelcache.lock} as it was, {@code lock} refuses, and
 * {@code serve} starts READY with the model flagged {@code stale}.
 */
@Tag(Chaos.TAG)
class S3OutageCliTest {
  @TempDir Path tmp;
  private S3Server s3;
  private Path config;

  @BeforeEach
  void fetchWhileS3IsUp() throws Exception {
    s3 = S3Server.start();
    s3.bucket("models");
    // no checksums: trusted on first use, their digests recorded in modelcache.lock
    s3.put(
        "models",
        "iris/model.pt",
        Files.readAllBytes(TestModels.MODELS.resolve("iris/model.pt")),
        false);
    s3.put(
        "models",
        "iris/config.json",
        Files.readAllBytes(TestModels.MODELS.resolve("iris/config.json")),
        false);
    config = tmp.resolve("modelcache.yaml");
    writeConfig(s3.endpoint().toString());
    CliRun fetched = CliRun.of("fetch", "-c", config.toString());
    assertThat(fetched.code()).as(fetched.err()).isZero();
  }

  @AfterEach
  void stop() {
    s3.close();
  }

  private void writeConfig(String endpoint) throws Exception {
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nsources:\n  s3:\n    endpoint: "
            + endpoint
            + "\n    path_style: true\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + "  - name: iris\n    source: s3://models/iris\n");
  }

  @Test
  void fetchLockAndServeWhileTheEndpointIsDown() throws Exception {
    Path lockfile = tmp.resolve("modelcache.lock");
    String locked = Files.readString(lockfile);
    String snapshot =
        new ObjectMapper().readTree(locked).path("models").path("iris").path("revision").asText();
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    writeConfig("http://127.0.0.1:" + port);

    CliRun fetch = CliRun.of("fetch", "-c", config.toString());
    assertThat(fetch.code()).as(fetch.err()).isZero();
    assertThat(fetch.out())
        .startsWith("ok iris: snapshot " + snapshot + ", 2 files")
        .contains("(from the cache: the source is unreachable, see the WARN above)");
    assertThat(Files.readString(lockfile)).isEqualTo(locked);

    CliRun lock = CliRun.of("lock", "-c", config.toString());
    assertThat(lock.code()).isEqualTo(1);
    assertThat(lock.err())
        .startsWith(
            "FAILED iris: iris - s3://models/iris is unreachable, and 'modelcache lock' resolves"
                + " every revision anew: run it again when the source answers (the cache holds "
                + snapshot
                + ")");
    assertThat(Files.readString(lockfile)).isEqualTo(locked);

    try (ChildDaemon child =
        ChildDaemon.start(
            config,
            Map.of(
                "AWS_ACCESS_KEY_ID", S3Server.IDENTITY,
                "AWS_SECRET_ACCESS_KEY", S3Server.SECRET,
                "AWS_REGION", "us-east-1"))) {
      int http = child.awaitReady(Duration.ofSeconds(120));
      try (Response response =
          new OkHttpClient()
              .newCall(new Request.Builder().url("http://127.0.0.1:" + http + "/health").build())
              .execute()) {
        assertThat(response.code()).isEqualTo(200);
        JsonNode iris = new ObjectMapper().readTree(response.body().string()).path("models").get(0);
        assertThat(iris.path("state").asText()).isEqualTo("READY");
        assertThat(iris.path("stale").path("revision").asText()).isEqualTo(snapshot);
        assertThat(iris.path("stale").path("reason").asText())
            .startsWith(
                "iris - listing s3://models/iris: cannot reach the S3 endpoint http://127.0.0.1:"
                    + port
                    + " (ConnectException: ");
      }
    }
    assertThat(Files.readString(lockfile))
        .as("serve leaves the lockfile as it was")
        .isEqualTo(locked);
  }
}
