package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.source.hub.FakeHub;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a probe sees while a model downloads: {@code /health} walks the model through FETCHING
 * (bytes rising towards the right total, with a rate and an ETA) to READY, and readiness turns 200
 * only then.
 */
class HealthWhileFetchingTest {
  /** One answer of {@code /health}: its status and the model's entry. */
  private record Probe(int status, JsonNode iris) {}

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final long BYTES_PER_SECOND = 4000; // model.pt (8 KiB) takes about 2 s

  @TempDir Path tmp;
  private final OkHttpClient http = new OkHttpClient();

  @Test
  void healthShowsFetchingWithRisingBytesThenReady() throws Exception {
    long modelBytes = Files.size(TestModels.MODELS.resolve("iris/model.pt"));
    long configBytes = Files.size(TestModels.MODELS.resolve("iris/config.json"));
    try (FakeHub hub = FakeHub.start()) {
      hub.repo("demo/iris")
          .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
          .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false)
          .commit("main");
      hub.fault(FakeHub.Fault.slow("/lfs/", BYTES_PER_SECOND));
      String yaml =
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  hf:\n    endpoint: "
              + hub.endpoint()
              + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
              + "  - name: iris\n    source: hf://demo/iris\n    sha256:\n"
              + "      model.pt: "
              + TestModels.sha256("iris", "model.pt")
              + "\n";
      Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
      try (Daemon daemon = new Daemon(config, Clock.systemUTC()).start()) {
        String base = "http://127.0.0.1:" + daemon.port();
        List<JsonNode> fetching = new ArrayList<>();
        // probed every 100 ms, as a kubelet would
        Probe settled =
            Poll.until(
                Duration.ofSeconds(60),
                Duration.ofMillis(100),
                () -> {
                  try (Response health =
                      http.newCall(new Request.Builder().url(base + "/health").build()).execute()) {
                    Probe probe =
                        new Probe(
                            health.code(),
                            MAPPER.readTree(health.body().string()).get("models").get(0));
                    if (probe.iris().get("state").asText().equals("FETCHING")) {
                      fetching.add(probe.iris());
                    }
                    return probe;
                  }
                },
                probe ->
                    !List.of("PENDING", "FETCHING", "VERIFYING", "LOADING")
                        .contains(probe.iris().get("state").asText()),
                probe -> "iris still " + probe.iris() + " after 60 s");
        JsonNode iris = settled.iris();
        int status = settled.status();

        assertThat(iris.get("state").asText()).as(iris.toString()).isEqualTo("READY");
        assertThat(status).isEqualTo(200);
        try (Response ready =
            http.newCall(new Request.Builder().url(base + "/health/ready").build()).execute()) {
          assertThat(ready.code()).isEqualTo(200);
        }

        fetching.forEach(o -> System.out.println("FETCHING: " + o));
        System.out.println("then: " + iris);
        assertThat(fetching).as("observations while FETCHING").hasSizeGreaterThanOrEqualTo(2);
        for (JsonNode observation : fetching) {
          assertThat(observation.get("total_bytes").asLong()).isEqualTo(modelBytes + configBytes);
          assertThat(observation.get("bytes").asLong()).isBetween(0L, modelBytes + configBytes);
          assertThat(observation.get("required").asBoolean()).isTrue();
        }
        List<Long> bytes = fetching.stream().map(o -> o.get("bytes").asLong()).toList();
        assertThat(bytes).as("bytes never go back").isSorted();
        assertThat(bytes.stream().distinct().count()).as("bytes rise: " + bytes).isGreaterThan(1);
        JsonNode later = fetching.get(fetching.size() - 1);
        assertThat(later.get("bytes_per_second").asLong())
            .as(later.toString())
            .isBetween(BYTES_PER_SECOND / 4, BYTES_PER_SECOND * 2);
        assertThat(later.get("eta_seconds").asLong()).as(later.toString()).isBetween(0L, 10L);
      }
    }
  }
}
