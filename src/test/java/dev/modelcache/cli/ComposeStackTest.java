package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * {@code docker compose up} from this checkout, as a user runs it: the image is built from {@code
 * docker/Dockerfile}, {@code fetch} fills the volume, {@code modelcache} becomes healthy, and the
 * example app's call to {@code /inference} succeeds. Needs a Docker engine with the compose plugin;
 * skipped, saying so, without one ({@link DockerImageTest} and {@link ComposeTest} check the same
 * files statically on every build).
 */
class ComposeStackTest {
  @Test
  void composeUpFetchesServesAndTheExampleAppsCallSucceeds() throws Exception {
    assumeTrue(
        DockerClientFactory.instance().isDockerAvailable(),
        "no Docker engine reachable (DOCKER_HOST or /var/run/docker.sock): the compose stack is not"
            + " built or run here; DockerImageTest and ComposeTest check the files without one");
    assumeTrue(
        composePluginAvailable(),
        "'docker compose' (the Compose v2 plugin) is not installed: the stack is not run here");
    StringBuffer appLog = new StringBuffer();
    CountDownLatch appAnswered = new CountDownLatch(1);
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    try (ComposeContainer stack =
        new ComposeContainer(new File("compose.yaml"))
            .withBuild(true)
            .withRemoveVolumes(true)
            .withEnv("MODELCACHE_PORT", String.valueOf(port))
            .withExposedService(
                "modelcache",
                8080,
                Wait.forHttp("/health/ready")
                    .forStatusCode(200)
                    .withStartupTimeout(Duration.ofMinutes(10)))
            .withLogConsumer(
                "app",
                frame -> {
                  appLog.append(frame.getUtf8String());
                  if (appLog.indexOf(" predicts ") >= 0) {
                    appAnswered.countDown();
                  }
                })
            .withStartupTimeout(Duration.ofMinutes(20))) {
      stack.start();
      assertThat(appAnswered.await(5, TimeUnit.MINUTES)).as(appLog.toString()).isTrue();
      assertThat(appLog.toString()).contains("predicts setosa for [5.1, 3.4, 1.5, 0.2]");

      String base =
          "http://"
              + stack.getServiceHost("modelcache", 8080)
              + ":"
              + stack.getServicePort("modelcache", 8080);
      OkHttpClient http = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
      try (Response response =
          http.newCall(
                  new Request.Builder()
                      .url(base + "/inference/iris")
                      .post(
                          RequestBody.create(
                              "{\"inputs\": [7.0, 3.2, 4.7, 1.4]}",
                              MediaType.get("application/json")))
                      .build())
              .execute()) {
        assertThat(response.code()).isEqualTo(200);
        assertThat(response.body().string()).contains("\"label\":\"versicolor\"");
      }
    }
  }

  private static boolean composePluginAvailable() {
    try {
      Process process =
          new ProcessBuilder("docker", "compose", "version")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0;
    } catch (java.io.IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
