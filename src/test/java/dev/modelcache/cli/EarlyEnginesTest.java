package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.PartFile;
import dev.modelcache.store.StagedFile;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EarlyEnginesTest {
  @TempDir Path cache;

  @Test
  void startsTheEngineThatAnInstalledSnapshotPicksAndNoneForAModelNotInTheCacheYet()
      throws Exception {
    Path iris = TestModels.MODELS.resolve("iris");
    Config config = TestModels.config(cache, TestModels.modelYaml("iris", iris));
    assertThat(EarlyEngines.engines(config)).isEmpty(); // a cold start: the load starts it
    install(new CacheStore(cache), config.models().get(0));
    assertThat(EarlyEngines.engines(config)).containsExactly("PyTorch");
  }

  @Test
  void aLazyModelStartsNoEngineAtStart() throws Exception {
    Path iris = TestModels.MODELS.resolve("iris");
    Config config =
        TestModels.config(cache, TestModels.modelYaml("iris", iris) + "    load: lazy\n");
    install(new CacheStore(cache), config.models().get(0));
    assertThat(EarlyEngines.engines(config)).isEmpty();
  }

  /** Installs the demo model's files as a fetch would: blobs by SHA-256, relative links. */
  private static void install(CacheStore store, ModelConfig model) throws Exception {
    List<CacheStore.Entry> entries = new ArrayList<>();
    Map<String, String> sha256ByPath = new TreeMap<>();
    for (String path : List.of("config.json", "model.pt")) {
      try (PartFile part = store.newPart(-1);
          InputStream in = Files.newInputStream(TestModels.MODELS.resolve("iris").resolve(path))) {
        part.append(in, n -> {});
        StagedFile staged = part.finish();
        entries.add(
            new CacheStore.Entry(path, staged.sha256(), staged.size(), staged.sha256(), staged));
        sha256ByPath.put(path, staged.sha256());
      }
    }
    var unused = store.install(model, CacheStore.snapshotId(sha256ByPath), "main", entries);
  }
}
