package dev.modelcache.cli;

import dev.modelcache.config.Config;
import dev.modelcache.config.SourceRef;
import dev.modelcache.source.FileSource;
import dev.modelcache.source.HuggingFaceSource;
import dev.modelcache.source.ModelSource;
import java.time.Duration;
import java.util.Map;
import okhttp3.OkHttpClient;

/** Builds the sources of a config, and the one HTTP client they share. */
final class Sources {
  private Sources() {}

  static OkHttpClient httpClient() {
    return new OkHttpClient.Builder()
        .connectTimeout(Duration.ofSeconds(15))
        .readTimeout(Duration.ofSeconds(60))
        .callTimeout(Duration.ZERO)
        .build();
  }

  static Map<SourceRef.Scheme, ModelSource> of(Config config, OkHttpClient http) {
    return Map.of(
        SourceRef.Scheme.FILE, new FileSource(),
        SourceRef.Scheme.HF, new HuggingFaceSource(config.sources().hf(), http));
  }
}
