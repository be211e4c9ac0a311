package dev.modelcache.fetch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.FileSource;
import dev.modelcache.store.CacheStore;
import dev.modelcache.store.FileStamp;
import dev.modelcache.store.InstalledSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An unpinned {@code file:} model already installed and unchanged is not copied again by the next
 * fetch (a {@code serve} start fetches the same way): its files are recognised by the stamps they
 * had when they were copied, as {@code cache.verify: fast} recognises blobs; a changed file is read
 * again.
 */
class LocalSourceReuseTest {
  @TempDir Path tmp;
  private Path source;
  private Path cache;
  private ModelConfig model;

  @BeforeEach
  void unpinnedModel() throws Exception {
    source = TestModels.copy("iris", tmp.resolve("src"));
    cache = tmp.resolve("cache");
    model =
        TestModels.config(cache, "  - name: iris\n    source: file:" + source + "\n")
            .models()
            .get(0);
  }

  /** One fetch by a fresh fetcher, as a new process runs it; returns the bytes it read. */
  private long fetch() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (Fetcher fetcher =
        new Fetcher(
            new CacheStore(cache),
            Map.of(SourceRef.Scheme.FILE, new FileSource()),
            new ModelStates(List.of("iris"), Set.of("iris"), Clock.systemUTC()),
            new Metrics(registry),
            Clock.systemUTC(),
            false)) {
      installed = fetcher.fetch(model);
    }
    return (long) registry.get(Metrics.FETCH_BYTES).counter().count();
  }

  private InstalledSnapshot installed;

  private FileStamp blobStamp(String path) throws Exception {
    return FileStamp.of(
        installed.files().stream().filter(f -> f.path().equals(path)).findFirst().get().blob());
  }

  @Test
  void anUnchangedUnpinnedModelIsNotReadAgain() throws Exception {
    long size = Files.size(source.resolve("model.pt")) + Files.size(source.resolve("config.json"));
    assertThat(fetch()).isEqualTo(size);
    String id = installed.id();
    FileStamp blob = blobStamp("model.pt");

    assertThat(fetch()).as("bytes read from the source by the second fetch").isZero();
    assertThat(installed.id()).isEqualTo(id);
    assertThat(blobStamp("model.pt")).as("the blob is not rewritten").isEqualTo(blob);
    assertThat(fetch()).as("nor by a third").isZero();
  }

  @Test
  void aChangedFileIsReadAgainAndOnlyIt() throws Exception {
    fetch();
    String id = installed.id();
    Path weights = source.resolve("model.pt");
    TestModels.flipOneByte(weights); // same size
    Files.setLastModifiedTime(weights, FileTime.from(Instant.now().plusSeconds(5)));

    assertThat(fetch()).isEqualTo(Files.size(weights));
    assertThat(installed.id()).isNotEqualTo(id);
    assertThat(installed.dir().resolve("model.pt")).hasSameBinaryContentAs(weights);
  }

  @Test
  void aTouchedFileIsReadAgainAndKeepsItsSnapshot() throws Exception {
    fetch();
    String id = installed.id();
    Path config = source.resolve("config.json");
    Files.setLastModifiedTime(config, FileTime.from(Instant.now().plusSeconds(5)));

    assertThat(fetch()).isEqualTo(Files.size(config));
    assertThat(installed.id()).isEqualTo(id);
    assertThat(fetch()).as("its new stamp is recorded").isZero();
  }
}
