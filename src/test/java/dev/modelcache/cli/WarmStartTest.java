package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A warm start (the model already in the cache) as {@code serve} runs it, in a child JVM: the
 * engine starts early, readiness still waits for the model, and HTTP's start does not build the
 * platform MBean server (docs/performance.md, "Warm start: the critical path").
 */
class WarmStartTest {
  @TempDir Path tmp;

  @Test
  void aWarmStartStartsTheEngineEarlyWaitsForTheModelAndBuildsNoMBeanServer() throws Exception {
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src"))));
    try (ChildDaemon cold = ChildDaemon.start(config, Map.of())) { // fills the cache
      cold.awaitReady(Duration.ofSeconds(60));
      cold.sigterm();
      assertThat(cold.awaitExit(Duration.ofSeconds(30))).isZero();
    }

    Path classes = tmp.resolve("classes.log");
    List<String> options = List.of("-Xlog:class+load=info:file=" + classes);
    try (ChildDaemon warm = ChildDaemon.start(config, Map.of("LOG_LEVEL", "DEBUG"), options)) {
      warm.awaitMessage(m -> m.startsWith("PyTorch started early in "), Duration.ofSeconds(60));
      int port = warm.awaitReady(Duration.ofSeconds(60));
      assertThat(warm.lines())
          .as("the model was READY before readiness was UP")
          .anyMatch(line -> line.contains(" - READY: model.pt"));
      HttpResponse<String> ready =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
      warm.sigterm();
      assertThat(warm.awaitExit(Duration.ofSeconds(30))).isZero();
    }
    // Jetty's thread pool asks the platform MBean server for UseCompressedOops unless told
    assertThat(Files.readAllLines(classes))
        .as("classes loaded by the warm start")
        .noneMatch(line -> line.contains(" javax.management.MBeanServerFactory "));
  }
}
