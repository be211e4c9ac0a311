package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.inference.ModelState;
import dev.modelcache.store.FileStamp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fetch} then {@code serve} of an unpinned {@code file:} model: {@code serve} finds it
 * installed and unchanged and reads none of its bytes again, nor rewrites its blobs.
 */
class LocalReuseServeTest {
  @TempDir Path tmp;

  @Test
  void serveAfterFetchReadsNoByteOfAnUnchangedUnpinnedModel() throws Exception {
    Path source = TestModels.copy("iris", tmp.resolve("src"));
    Path cache = tmp.resolve("cache");
    Path file =
        TestModels.configFile(tmp, cache, "  - name: iris\n    source: file:" + source + "\n");
    CliRun fetched = CliRun.of("fetch", "-c", file.toString());
    assertThat(fetched.code()).as(fetched.err()).isZero();
    Path blobs = cache.resolve("local/iris/blobs");
    Map<Path, FileStamp> before = stamps(blobs);

    Config config =
        new ConfigLoader(Map.of(), tmp).parse(Files.readString(file), file.toString(), tmp);
    try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
      daemon.prepared().get(60, TimeUnit.SECONDS);
      assertThat(daemon.states().status("iris").state()).isEqualTo(ModelState.READY);
      try (Response metrics =
          new OkHttpClient()
              .newCall(
                  new Request.Builder()
                      .url("http://127.0.0.1:" + daemon.port() + "/metrics")
                      .build())
              .execute()) {
        assertThat(metrics.body().string())
            .contains("modelcache_fetch_bytes_total{model=\"iris\",source=\"file\"} 0.0");
      }
    }
    assertThat(stamps(blobs)).as("no blob rewritten").isEqualTo(before);
  }

  private static Map<Path, FileStamp> stamps(Path dir) throws Exception {
    try (Stream<Path> files = Files.list(dir)) {
      Map<Path, FileStamp> stamps = new java.util.TreeMap<>();
      for (Path blob : files.toList()) {
        stamps.put(blob, FileStamp.of(blob));
      }
      assertThat(stamps).hasSize(2);
      return stamps;
    }
  }
}
