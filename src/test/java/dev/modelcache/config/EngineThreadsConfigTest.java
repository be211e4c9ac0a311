package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code server.engine_threads}: auto shares the cores out among every model's workers; a number
 * (or {@code MODELCACHE_SERVER_ENGINE_THREADS}) is taken as it is; anything else is a config error
 * that names the key.
 */
class EngineThreadsConfigTest {
  @TempDir Path dir;

  private Config parse(Map<String, String> env, String server) {
    String yaml =
        "cache:\n  dir: "
            + dir
            + "\nserver:\n  port: 0\n"
            + server
            + "models:\n"
            + "  - {name: a, source: 'file:a', workers: 2}\n"
            + "  - {name: b, source: 'file:b', workers: 1}\n";
    return new ConfigLoader(env, dir).parse(yaml, "test config", dir);
  }

  @Test
  void autoSharesTheCoresAmongEveryModelsWorkers() {
    Config config = parse(Map.of(), "");
    int cores = Runtime.getRuntime().availableProcessors();
    int expected = Math.max(1, cores / 3);
    System.out.println(cores + " cores, 3 workers: " + config.models().get(0).threads());
    assertThat(config.server().engineThreads()).isZero();
    assertThat(config.models()).allSatisfy(m -> assertThat(m.threads()).isEqualTo(expected));
    assertThat(ConfigLoader.engineThreads(0, 16, config.models())).isEqualTo(5);
    assertThat(ConfigLoader.engineThreads(0, 2, config.models())).isEqualTo(1);
    assertThat(ConfigLoader.engineThreads(4, 2, config.models())).isEqualTo(4);
  }

  @Test
  void aNumberOrItsVariableIsTakenAsItIs() {
    assertThat(parse(Map.of(), "  engine_threads: 3\n").models())
        .allSatisfy(m -> assertThat(m.threads()).isEqualTo(3));
    Config fromEnv =
        parse(Map.of("MODELCACHE_SERVER_ENGINE_THREADS", "2"), "  engine_threads: 7\n");
    assertThat(fromEnv.server().engineThreads()).isEqualTo(2);
    assertThat(fromEnv.models()).allSatisfy(m -> assertThat(m.threads()).isEqualTo(2));
    assertThat(parse(Map.of(), "  engine_threads: AUTO\n").server().engineThreads()).isZero();
  }

  @Test
  void aBadValueIsAConfigErrorNamingTheKey() {
    assertThatThrownBy(() -> parse(Map.of(), "  engine_threads: lots\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.engine_threads must be auto or a whole number")
        .hasMessageContaining("'lots'");
    assertThatThrownBy(() -> parse(Map.of(), "  engine_threads: 0\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.engine_threads (0) must be between 1 and 1024");
    assertThatThrownBy(() -> parse(Map.of("MODELCACHE_SERVER_ENGINE_THREADS", "-1"), ""))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("environment variable MODELCACHE_SERVER_ENGINE_THREADS")
        .hasMessageContaining("server.engine_threads");
  }
}
