package dev.modelcache.cli;

import static dev.modelcache.cli.ComposeTest.cast;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.metrics.MetricsDocs;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kubernetes manifests of {@code deploy/kubernetes} and the alert rules of {@code
 * deploy/prometheus}, checked without a cluster: every object against the Kubernetes API models
 * (unknown fields, missing required fields, wrong types), then what docs/kubernetes.md promises of
 * them (init container fetch, sidecar serve with its probes, read-only consumers, a node-level
 * warmer on a hostPath).
 */
class DeployManifestsTest {
  static final Path KUBERNETES = Path.of("deploy/kubernetes");
  private static final ObjectMapper JSON = new ObjectMapper();

  record Manifest(Path file, Map<String, Object> object) {
    String kind() {
      return (String) object.get("kind");
    }

    String name() {
      return (String) ComposeTest.map(object, "metadata").get("name");
    }

    Map<String, Object> podSpec() {
      return ComposeTest.map(ComposeTest.map(ComposeTest.map(object, "spec"), "template"), "spec");
    }
  }

  static List<Manifest> manifests() throws IOException {
    List<Manifest> manifests = new ArrayList<>();
    try (Stream<Path> files = Files.list(KUBERNETES)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
        // SnakeYAML resolves the anchors the manifests share, as kubectl does.
        for (Object document : new Yaml().loadAll(Files.readString(file))) {
          if (document != null) {
            manifests.add(new Manifest(file, cast(document)));
          }
        }
      }
    }
    return manifests;
  }

  @Test
  void everyObjectMatchesTheKubernetesApiSchema() throws Exception {
    List<Manifest> manifests = manifests();
    assertThat(manifests)
        .extracting(Manifest::kind)
        .contains("Deployment", "DaemonSet", "ConfigMap", "Service");
    for (Manifest manifest : manifests) {
      String apiVersion = (String) manifest.object().get("apiVersion");
      String version = apiVersion.substring(apiVersion.lastIndexOf('/') + 1);
      String model =
          "io.kubernetes.client.openapi.models."
              + Character.toUpperCase(version.charAt(0))
              + version.substring(1)
              + manifest.kind();
      JsonElement json = JsonParser.parseString(JSON.writeValueAsString(manifest.object()));
      try {
        Class.forName(model).getMethod("validateJsonElement", JsonElement.class).invoke(null, json);
      } catch (InvocationTargetException e) {
        throw new AssertionError(
            manifest.file()
                + ": "
                + manifest.kind()
                + " "
                + manifest.name()
                + ": "
                + e.getCause().getMessage().replaceAll(" JSON: .*", ""),
            e.getCause());
      }
    }
  }

  @Test
  void theSchemaCheckRejectsAMisspeltField() throws Exception {
    Map<String, Object> deployment =
        manifests().stream()
            .filter(m -> m.kind().equals("Deployment"))
            .findFirst()
            .orElseThrow()
            .object();
    Map<String, Object> container =
        cast(((List<?>) new Manifest(null, deployment).podSpec().get("containers")).get(0));
    container.put("readinesProbe", Map.of("periodSeconds", 5));
    JsonElement json = JsonParser.parseString(JSON.writeValueAsString(deployment));
    InvocationTargetException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            InvocationTargetException.class,
            () ->
                Class.forName("io.kubernetes.client.openapi.models.V1Deployment")
                    .getMethod("validateJsonElement", JsonElement.class)
                    .invoke(null, json));
    assertThat(e.getCause().getMessage()).contains("readinesProbe");
  }

  @Test
  void theSidecarPodFetchesFirstThenServesAsANativeSidecarAndTheAppReadsOnly() throws IOException {
    Manifest deployment = find("sidecar.yaml", "Deployment");
    Map<String, Object> pod = deployment.podSpec();
    List<Object> inits = ComposeTest.list(pod, "initContainers");
    assertThat(inits)
        .extracting(c -> (Object) ((Map<?, ?>) c).get("name"))
        .containsExactly("fetch", "serve");
    Map<String, Object> fetch = container(pod, "initContainers", "fetch");
    assertThat(ComposeTest.list(fetch, "args")).containsExactly("fetch");
    assertThat(fetch).doesNotContainKey("restartPolicy");
    Map<String, Object> serve = container(pod, "initContainers", "serve");
    assertThat(ComposeTest.list(serve, "args")).containsExactly("serve");
    assertNativeSidecar(serve);
    Map<String, Object> app = container(pod, "containers", "app");
    assertThat(mount(app, "models")).containsEntry("readOnly", true);
    assertThat(mount(serve, "models")).doesNotContainKey("readOnly");
    assertThat((Integer) pod.get("terminationGracePeriodSeconds")).isGreaterThan(30);
    assertThat(env(serve)).contains("HF_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");
  }

  @Test
  void theNodeCacheIsWarmedByADaemonSetAndReadOnlyByTheWorkloads() throws IOException {
    Manifest warmer = find("node-cache.yaml", "DaemonSet");
    Map<String, Object> warmerPod = warmer.podSpec();
    Map<String, Object> serve = container(warmerPod, "containers", "warmer");
    assertProbes(serve, "/health/live");
    assertThat(ComposeTest.list(warmerPod, "tolerations"))
        .as("the warmer runs on tainted GPU nodes too")
        .anySatisfy(t -> assertThat(((Map<?, ?>) t).get("key")).isEqualTo("nvidia.com/gpu"));
    String hostPath = hostPath(warmerPod, "models");
    Manifest consumer = find("node-cache.yaml", "Deployment");
    Map<String, Object> consumerPod = consumer.podSpec();
    assertThat(hostPath(consumerPod, "models")).isEqualTo(hostPath);
    for (String list : List.of("containers", "initContainers")) {
      for (Object c : ComposeTest.list(consumerPod, list)) {
        assertThat(mount(cast(c), "models")).containsEntry("readOnly", true);
      }
    }
    assertNativeSidecar(container(consumerPod, "initContainers", "serve"));
  }

  @Test
  void noPodTakesKubernetesServiceLinks() throws IOException {
    // A Service named modelcache would inject MODELCACHE_PORT=tcp://... into every pod of the
    // namespace (ConfigLoaderTest checks that the daemon ignores them; the pods do not take them).
    for (Manifest m : manifests()) {
      if (m.kind().equals("Deployment") || m.kind().equals("DaemonSet")) {
        assertThat(m.podSpec())
            .as(m.file() + " " + m.name())
            .containsEntry("enableServiceLinks", false);
      }
    }
  }

  @Test
  void theConfigMapHoldsAValidConfig() throws IOException {
    Manifest configMap = find("sidecar.yaml", "ConfigMap");
    String yaml = (String) ComposeTest.map(configMap.object(), "data").get("modelcache.yaml");
    Config config =
        new ConfigLoader(Map.of(), Path.of("/config")).parse(yaml, "ConfigMap", Path.of("/config"));
    assertThat(config.cache().dir()).isEqualTo(Path.of("/models"));
    assertThat(config.models()).isNotEmpty();
    for (Manifest m : manifests()) {
      if (m.kind().equals("Deployment") || m.kind().equals("DaemonSet")) {
        for (Object volume : ComposeTest.list(m.podSpec(), "volumes")) {
          Map<String, Object> v = cast(volume);
          if (v.containsKey("configMap")) {
            assertThat(ComposeTest.map(v, "configMap")).containsEntry("name", configMap.name());
          }
        }
      }
    }
  }

  @Test
  void theAlertRulesFileIsTheDocsBlockAndPromtoolAcceptsIt() throws Exception {
    Path rules = Path.of("deploy/prometheus/modelcache-rules.yaml");
    String withoutComments =
        Files.readString(rules)
            .lines()
            .filter(l -> !l.startsWith("#"))
            .map(l -> l + "\n")
            .reduce("", String::concat);
    assertThat(withoutComments)
        .isEqualTo(MetricsDocs.alertRules(Files.readString(Path.of("docs/metrics.md"))));
    assumeTrue(
        DockerImageTest.onPath("promtool"),
        "promtool is not on the PATH (Debian: apt-get install prometheus; .ci/run installs it)");
    Process process =
        new ProcessBuilder("promtool", "check", "rules", rules.toString())
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
    assertThat(output).contains("SUCCESS");
  }

  /** An init container kept running, whose start-up gates the app on every model being READY. */
  private static void assertNativeSidecar(Map<String, Object> container) {
    assertThat(container).containsEntry("restartPolicy", "Always");
    assertProbes(container, "/health/ready");
  }

  private static void assertProbes(Map<String, Object> container, String startupPath) {
    Map<String, Object> port = cast(ComposeTest.list(container, "ports").get(0));
    assertThat(port).containsEntry("containerPort", 8080);
    assertThat(probePath(container, "startupProbe")).isEqualTo(startupPath);
    assertThat(probePath(container, "livenessProbe")).isEqualTo("/health/live");
    assertThat(probePath(container, "readinessProbe")).isEqualTo("/health/ready");
    for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
      Object probePort = ComposeTest.map(ComposeTest.map(container, probe), "httpGet").get("port");
      assertThat(probePort).as(probe).isIn(port.get("name"), 8080);
    }
  }

  private static String probePath(Map<String, Object> container, String probe) {
    return (String) ComposeTest.map(ComposeTest.map(container, probe), "httpGet").get("path");
  }

  private static Manifest find(String file, String kind) throws IOException {
    return manifests().stream()
        .filter(m -> m.file().getFileName().toString().equals(file) && m.kind().equals(kind))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind + " in " + file));
  }

  private static Map<String, Object> container(Map<String, Object> pod, String list, String name) {
    return ComposeTest.list(pod, list).stream()
        .map(c -> ComposeTest.<Map<String, Object>>cast(c))
        .filter(c -> name.equals(c.get("name")))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no container " + name + " in " + list));
  }

  private static Map<String, Object> mount(Map<String, Object> container, String volume) {
    return ComposeTest.list(container, "volumeMounts").stream()
        .map(m -> ComposeTest.<Map<String, Object>>cast(m))
        .filter(m -> volume.equals(m.get("name")))
        .findFirst()
        .orElseThrow(() -> new AssertionError(container.get("name") + " does not mount " + volume));
  }

  private static List<String> env(Map<String, Object> container) {
    return ComposeTest.list(container, "env").stream()
        .map(e -> (String) ComposeTest.<Map<String, Object>>cast(e).get("name"))
        .toList();
  }

  private static String hostPath(Map<String, Object> pod, String volume) {
    return ComposeTest.list(pod, "volumes").stream()
        .map(v -> ComposeTest.<Map<String, Object>>cast(v))
        .filter(v -> volume.equals(v.get("name")))
        .map(v -> (String) ComposeTest.map(v, "hostPath").get("path"))
        .filter(Objects::nonNull)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no hostPath volume " + volume));
  }
}
