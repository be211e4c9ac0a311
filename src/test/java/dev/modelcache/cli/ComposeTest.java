package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * {@code compose.yaml} checked without a Docker engine: Debian's {@code docker-compose config}
 * accepts it, its services wait for each other as documented, secrets come only from the
 * environment, and the example app gets its answer from a real daemon. {@code
 * scripts/compose-e2e.sh} runs the whole stack where Docker is available.
 */
class ComposeTest {
  static final Path COMPOSE = Path.of("compose.yaml");

  @TempDir Path tmp;

  @Test
  void dockerComposeAcceptsTheFileWithAndWithoutTheGpuProfile() throws Exception {
    assumeTrue(
        DockerImageTest.onPath("docker-compose"),
        "docker-compose is not on the PATH (Debian: apt-get install docker-compose; .ci/run installs"
            + " it)");
    assertThat(compose("config", "--quiet")).isEmpty();
    assertThat(compose("--profile", "gpu", "config", "--quiet")).isEmpty();
    assertThat(compose("config", "--services").lines())
        .containsExactlyInAnyOrder("fetch", "modelcache", "app", "modelcache-gpu");
  }

  @Test
  void buildArgumentsDefaultToTheDockerfilesOwn() {
    // Compose passes an argument that is unset in the environment as blank, so compose.yaml
    // repeats each default: they must stay the Dockerfile's.
    for (String service : List.of("modelcache", "modelcache-gpu")) {
      List<?> args = list(map(services().get(service), "build"), "args");
      assertThat(args).isNotEmpty();
      for (Object arg : args) {
        java.util.regex.Matcher m =
            java.util.regex.Pattern.compile("(\\w+)=\\$\\{(\\w+):-(.*)}").matcher((String) arg);
        if (!m.matches()) {
          continue; // FLAVOR=cuda: set, not defaulted
        }
        assertThat(m.group(3))
            .as("%s: build argument %s", service, m.group(1))
            .isEqualTo(
                DockerImageTest.globalArg(m.group(1)) == null
                    ? argOfStage(m.group(1))
                    : DockerImageTest.globalArg(m.group(1)));
      }
    }
  }

  private static String argOfStage(String name) {
    return DockerImageTest.IMAGE.stages().stream()
        .flatMap(stage -> stage.all("ARG").stream())
        .map(arg -> arg.args().split("=", 2))
        .filter(parts -> parts[0].equals(name) && parts.length == 2)
        .map(parts -> parts[1])
        .findFirst()
        .orElseThrow(() -> new AssertionError("the Dockerfile has no ARG " + name));
  }

  @Test
  void servicesStartInOrderAndConsumersMountTheCacheReadOnly() {
    Map<String, Map<String, Object>> services = services();
    Map<String, Object> modelcache = services.get("modelcache");
    assertThat(list(modelcache, "volumes")).contains("models:/models");
    assertThat(map(map(modelcache, "depends_on"), "fetch"))
        .containsEntry("condition", "service_completed_successfully");
    assertThat(list(map(modelcache, "healthcheck"), "test"))
        .containsExactly("CMD", "/opt/modelcache/bin/healthcheck");
    assertThat(list(services.get("fetch"), "command")).containsExactly("fetch");

    Map<String, Object> app = services.get("app");
    assertThat(map(map(app, "depends_on"), "modelcache"))
        .containsEntry("condition", "service_healthy");
    assertThat(list(app, "volumes")).contains("models:/models:ro");
    assertThat(list(app, "command")).containsExactly("python3", "/app/app.py");

    Map<String, Object> gpu = services.get("modelcache-gpu");
    assertThat(list(gpu, "profiles")).containsExactly("gpu");
    assertThat(list(map(gpu, "build"), "args")).contains("FLAVOR=cuda");
    Map<String, Object> device =
        map(map(map(gpu, "deploy"), "resources"), "reservations").get("devices")
                instanceof List<?> l
            ? cast(l.get(0))
            : Map.of();
    assertThat(device).containsEntry("driver", "nvidia");
    assertThat(list(device, "capabilities")).containsExactly("gpu");
  }

  @Test
  void secretsArePassedFromTheEnvironmentAndNeverWrittenDown() {
    for (Map.Entry<String, Map<String, Object>> service : services().entrySet()) {
      Map<String, Object> env = map(service.getValue(), "environment");
      for (Map.Entry<String, Object> variable : env.entrySet()) {
        if (variable.getKey().matches(".*(TOKEN|SECRET|ACCESS_KEY).*")) {
          assertThat(variable.getValue())
              .as(
                  "%s of %s: passed through (no value), never set here",
                  variable.getKey(), service.getKey())
              .isNull();
        }
      }
    }
    assertThat(map(services().get("modelcache"), "environment"))
        .containsKeys(
            "HF_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN");
  }

  @Test
  void theExampleAppGetsItsAnswerFromTheDaemonAndSeesTheSharedFiles() throws Exception {
    assumeTrue(
        DockerImageTest.onPath("python3"), "python3 is not on the PATH; the example app is Python");
    Path cache = tmp.resolve("cache");
    Config config =
        TestModels.config(
            cache, TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src"))));
    try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
      daemon.prepared().get(60, TimeUnit.SECONDS);
      ProcessBuilder app =
          new ProcessBuilder("python3", "examples/app/app.py").redirectErrorStream(true);
      app.environment().put("MODELCACHE_URL", "http://127.0.0.1:" + daemon.port());
      app.environment().put("MODELS_DIR", cache.toString());
      app.environment().remove("MODELCACHE_TOKEN");
      Process process = app.start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(process.exitValue()).as(output).isZero();
      assertThat(output)
          .containsPattern(
              "app: iris at revision [0-9a-f]+ predicts setosa for \\[5.1, 3.4, 1.5, 0.2\\]")
          .contains("model files readable in " + cache + ": local/iris/snapshots/");
    }
  }

  @Test
  void theExampleAppFailsNamingTheCauseWhenModelcacheIsAway() throws Exception {
    assumeTrue(
        DockerImageTest.onPath("python3"), "python3 is not on the PATH; the example app is Python");
    ProcessBuilder app =
        new ProcessBuilder("python3", "examples/app/app.py").redirectErrorStream(true);
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    app.environment().put("MODELCACHE_URL", "http://127.0.0.1:9");
    app.environment().put("MODELS_DIR", tmp.toString());
    Process process = app.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).isEqualTo(1);
    assertThat(output).startsWith("app: cannot reach modelcache at http://127.0.0.1:9: ");
  }

  static Map<String, Map<String, Object>> services() {
    try {
      // SnakeYAML resolves the file's anchors and '<<' merge keys as Compose does.
      Map<String, Object> root = new Yaml().load(Files.readString(COMPOSE));
      return cast(root.get("services"));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String compose(String... args) throws Exception {
    List<String> command =
        new java.util.ArrayList<>(List.of("docker-compose", "--file", COMPOSE.toString()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(err).isZero();
    return out;
  }

  @SuppressWarnings("unchecked")
  static <T> T cast(Object value) {
    return (T) value;
  }

  static Map<String, Object> map(Map<String, Object> parent, String key) {
    Object value = parent.get(key);
    assertThat(value).as(key).isInstanceOf(Map.class);
    return cast(value);
  }

  static List<Object> list(Map<String, Object> parent, String key) {
    Object value = parent.get(key);
    assertThat(value).as(key).isInstanceOf(List.class);
    return cast(value);
  }
}
