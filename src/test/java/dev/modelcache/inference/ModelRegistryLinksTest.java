package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.task.BuiltInTasks;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.InstalledSnapshot;
import dev.modelcache.store.PartFile;
import dev.modelcache.store.StagedFile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A load reads what verification checked: the registry resolves every snapshot file with {@link
 * CacheStore#realPath} before the engine opens it, so a link changed after verification (or never
 * verified) is refused naming the path, not loaded as READY.
 */
class ModelRegistryLinksTest {
  @TempDir Path cache;
  @TempDir Path outside;

  @Test
  void aSnapshotFileLeadingOutsideTheCacheIsNotLoadedAndTheErrorNamesIt() throws Exception {
    Config config =
        TestModels.config(cache, TestModels.modelYaml("iris", TestModels.MODELS.resolve("iris")));
    ModelConfig model = config.models().get(0);
    InstalledSnapshot snapshot = install(new CacheStore(cache), model);
    Path link = snapshot.dir().resolve("model.pt");
    Path blobLink = Files.readSymbolicLink(link);
    // the very bytes, outside: only the path tells them apart
    Path evil = Files.copy(TestModels.MODELS.resolve("iris/model.pt"), outside.resolve("evil.pt"));
    Files.delete(link);
    Files.createSymbolicLink(link, evil);

    ModelStates states = new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC());
    try (ModelRegistry registry =
        new ModelRegistry(
            config.models(),
            states,
            new Metrics(new SimpleMeterRegistry()),
            new ObjectMapper(),
            BuiltInTasks.factory(new ObjectMapper()))) {
      assertThatThrownBy(() -> registry.load(model, snapshot))
          .isInstanceOf(ModelLoadException.class)
          .hasMessage(
              "iris - model.pt: "
                  + link
                  + " leads outside the cache "
                  + cache
                  + ", to "
                  + evil.toRealPath()
                  + ": modelcache never follows a symlink out of the cache; run 'modelcache"
                  + " fetch'");
      assertThat(states.status("iris").state()).isNotEqualTo(ModelState.READY);
      assertThat(registry.info("iris")).isEmpty();

      // the link put back, the same snapshot loads: only the link was refused
      Files.delete(link);
      Files.createSymbolicLink(link, blobLink);
      registry.load(model, snapshot);
      assertThat(states.status("iris").state()).isEqualTo(ModelState.READY);
    }
  }

  /** Installs the demo model's files as a fetch would: blobs by SHA-256, relative links. */
  static InstalledSnapshot install(CacheStore store, ModelConfig model) throws Exception {
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
    return store.install(model, CacheStore.snapshotId(sha256ByPath), "main", entries);
  }
}
