package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@code oci://} sources and {@code sources.oci} are read and refused. */
class OciConfigTest {
  private static final String DIGEST = "sha256:" + "ab".repeat(32);

  @TempDir Path dir;

  private Config parse(String yaml, Map<String, String> env) {
    return new ConfigLoader(env, dir).parse(yaml, "test.yaml", dir);
  }

  private SourceRef source(String source) {
    return parse("models:\n  - name: m\n    source: " + source + "\n", Map.of())
        .models()
        .get(0)
        .source();
  }

  @Test
  void readsTheRegistryTheRepositoryAndATagOrADigest() {
    SourceRef tagged = source("oci://registry.example.com:5000/team/sub/iris:v1.2");
    assertThat(tagged.scheme()).isEqualTo(SourceRef.Scheme.OCI);
    assertThat(tagged.location()).isEqualTo("registry.example.com:5000/team/sub/iris");
    assertThat(tagged.revision()).isEqualTo("v1.2");
    assertThat(tagged.ociDigest()).isNull();

    assertThat(source("oci://ghcr.io/org/iris").revision())
        .as("the default tag")
        .isEqualTo("latest");

    SourceRef pinned = source("oci://127.0.0.1:5000/iris@" + DIGEST);
    assertThat(pinned.revision()).isEqualTo(DIGEST);
    assertThat(pinned.ociDigest()).isEqualTo("ab".repeat(32));
  }

  @Test
  void refusesWhatIsNotAnOciReference() {
    for (String bad :
        List.of(
            "oci://ghcr.io",
            "oci://ghcr.io/Org/Iris",
            "oci://ghcr.io/org/iris:v1@" + DIGEST,
            "oci://ghcr.io/org/iris:-bad",
            "oci://ghcr.io/org/iris@sha512:abc",
            "oci://bad_host/org/iris")) {
      assertThatThrownBy(() -> source(bad))
          .as(bad)
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("models[0].source '" + bad + "'");
    }
  }

  @Test
  void readsPlainHttpRegistriesAndDockersConfigFromTheConfigOrTheEnvironment() throws Exception {
    Path docker = Files.createDirectories(dir.resolve("docker"));
    Files.writeString(docker.resolve("config.json"), "{}");
    Config config =
        parse(
            "sources:\n  oci:\n    plain_http: [registry.internal:5000]\n",
            Map.of("DOCKER_CONFIG", docker.toString()));
    assertThat(config.sources().oci())
        .isEqualTo(
            new Config.OciConfig(List.of("registry.internal:5000"), docker.resolve("config.json")));
    assertThat(config.describe())
        .contains(
            "sources.oci.plain_http=[registry.internal:5000] sources.oci.docker_config="
                + docker.resolve("config.json"));

    Config fromVariable =
        parse(
            "cache:\n  dir: " + dir + "\n",
            Map.of("MODELCACHE_SOURCES_OCI_DOCKER_CONFIG", "docker/config.json"));
    assertThat(fromVariable.sources().oci().dockerConfig())
        .isEqualTo(dir.resolve("docker/config.json"));

    Config home = parse("cache:\n  dir: " + dir + "\n", Map.of("HOME", dir.toString()));
    assertThat(home.sources().oci().dockerConfig()).as("no ~/.docker/config.json").isNull();

    assertThatThrownBy(() -> parse("sources:\n  oci:\n    docker_config: missing.json\n", Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("sources.oci.docker_config (missing.json) is not a file");
    assertThatThrownBy(
            () -> parse("sources:\n  oci:\n    plain_http: [http://registry/x]\n", Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("sources.oci.plain_http lists registries as host[:port]");
  }
}
