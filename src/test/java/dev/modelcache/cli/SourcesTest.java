package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.config.SourceRef;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SourcesTest {
  @TempDir Path tmp;

  @Test
  void aConfigOfLocalFoldersBuildsNoHttpClient() {
    try (Sources local =
            Sources.of(TestModels.config(tmp, "  - name: m\n    source: file:/nowhere\n"));
        Sources remote =
            Sources.of(TestModels.config(tmp, "  - name: m\n    source: hf://org/name\n"))) {
      assertThat(local.byScheme().keySet()).containsExactly(SourceRef.Scheme.FILE);
      assertThat(remote.byScheme().keySet())
          .containsExactlyInAnyOrder(
              SourceRef.Scheme.FILE,
              SourceRef.Scheme.HF,
              SourceRef.Scheme.S3,
              SourceRef.Scheme.GCS,
              SourceRef.Scheme.URL,
              SourceRef.Scheme.OCI,
              SourceRef.Scheme.AZURE);
    }
  }
}
