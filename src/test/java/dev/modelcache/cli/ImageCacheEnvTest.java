package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The image's environment makes modelcache put the Hub models where huggingface_hub, run with the
 * same environment (a Python app built from the image, or given its variables), looks for them.
 */
class ImageCacheEnvTest {

  @Test
  void modelcacheAndHuggingfaceHubAgreeOnTheHubCacheInTheImage() {
    List<Dockerfile.Stage> stages = Dockerfile.read(Path.of("docker/Dockerfile")).stages();
    Map<String, String> env = stages.get(stages.size() - 1).env();
    assertThat(env).containsKeys("MODELCACHE_CACHE_DIR", "HF_HUB_CACHE");

    Path workDir = Path.of("/opt/modelcache");
    Config config = new ConfigLoader(env, workDir).parse("", "the image's config", workDir);

    assertThat(config.cache().dir()).isEqualTo(Path.of(env.get("MODELCACHE_CACHE_DIR")));
    assertThat(config.cache().hubDir()).isEqualTo(Path.of(env.get("HF_HUB_CACHE")));
  }
}
