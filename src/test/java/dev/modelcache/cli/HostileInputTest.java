package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile requests against the real daemon: each gets a 4xx whose JSON error names the problem, and
 * the daemon keeps serving. And no registered route, called with any method, writes to the cache or
 * loads a model.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final MediaType JSON = MediaType.get("application/json");

  @TempDir static Path tmp;
  private Daemon daemon;
  private OkHttpClient http;
  private String base;

  @BeforeAll
  void start() throws Exception {
    Path sources = tmp.resolve("sources");
    daemon =
        new Daemon(
                TestModels.config(
                    tmp.resolve("cache"),
                    TestModels.modelYaml("iris", TestModels.copy("iris", sources))
                        + TestModels.modelYaml("digits", TestModels.copy("digits", sources))),
                Clock.systemUTC())
            .start();
    daemon.prepared().get(60, TimeUnit.SECONDS);
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
      JsonNode node = MAPPER.readTree(body);
      return node.path("error").asText();
    }
  }

  private Reply send(Request request) throws IOException {
    try (Response response = http.newCall(request).execute()) {
      return new Reply(response.code(), response.body().string());
    }
  }

  private Reply post(String path, String body) throws IOException {
    return send(
        new Request.Builder().url(base + path).post(RequestBody.create(body, JSON)).build());
  }

  private void stillServes() throws IOException {
    assertThat(post("/inference/iris", "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}").code()).isEqualTo(200);
  }

  @Test
  void deeplyNestedJsonIsA400() throws Exception {
    Reply reply =
        post("/inference/iris", "{\"inputs\": " + "[".repeat(100_000) + "]".repeat(100_000) + "}");
    assertThat(reply.code()).isEqualTo(400);
    assertThat(reply.error()).containsIgnoringCase("nest");
    stillServes();
  }

  @Test
  void aHundredMegabyteStreamedBodyIsA413WithoutBeingRead() throws Exception {
    long size = 100L * 1024 * 1024;
    RequestBody chunked =
        new RequestBody() {
          @Override
          public MediaType contentType() {
            return JSON;
          }

          @Override
          public long contentLength() {
            return -1; // chunked: the server cannot refuse it by its header
          }

          @Override
          public void writeTo(BufferedSink sink) throws IOException {
            byte[] chunk = new byte[64 * 1024];
            java.util.Arrays.fill(chunk, (byte) '1');
            sink.writeUtf8("{\"inputs\": [");
            for (long written = 0; written < size; written += chunk.length) {
              sink.write(chunk);
            }
            sink.writeUtf8("]}");
          }
        };
    Reply reply;
    try {
      reply = send(new Request.Builder().url(base + "/inference/iris").post(chunked).build());
    } catch (IOException e) {
      // the server may close the connection once it has answered 413; then there is no reply
      // to read, but the daemon must still serve
      reply = null;
    }
    if (reply != null) {
      assertThat(reply.code()).isEqualTo(413);
      assertThat(reply.error()).contains("server.max_body_bytes");
    }
    Reply declared =
        send(
            new Request.Builder()
                .url(base + "/inference/iris")
                .post(RequestBody.create(new byte[17 * 1024 * 1024], JSON))
                .build());
    assertThat(declared.code()).isEqualTo(413);
    stillServes();
  }

  @Test
  void nanInfinityAndOverflowingNumbersAreA400() throws Exception {
    for (String inputs :
        List.of(
            "[NaN, 1, 2, 3]",
            "[Infinity, 1, 2, 3]",
            "[-Infinity, 1, 2, 3]",
            "[1e999, 1, 2, 3]",
            "[\"NaN\", 1, 2, 3]")) {
      Reply reply = post("/inference/iris", "{\"inputs\": " + inputs + "}");
      assertThat(reply.code()).as(inputs).isEqualTo(400);
      assertThat(reply.error()).as(inputs).isNotBlank();
    }
    stillServes();
  }

  @Test
  void shapesStringsAndTypesThatDoNotFitAreA400() throws Exception {
    Map<String, String> bodies = new TreeMap<>();
    bodies.put("digits with iris's shape", "{\"inputs\": [1, 2, 3, 4]}");
    bodies.put("an object for inputs", "{\"inputs\": {\"a\": 1}}");
    bodies.put("a string for inputs", "{\"inputs\": \"1, 2, 3, 4\"}");
    bodies.put("a number body", "42");
    bodies.put("an array body", "[1, 2]");
    bodies.put("an empty body", "");
    bodies.put("null inputs", "{\"inputs\": null}");
    bodies.put("booleans", "{\"inputs\": [true, false, true, false]}");
    for (Map.Entry<String, String> body : bodies.entrySet()) {
      Reply reply = post("/inference/digits", body.getValue());
      assertThat(reply.code()).as(body.getKey()).isEqualTo(400);
      assertThat(reply.error()).as(body.getKey()).isNotBlank();
    }
    stillServes();
  }

  @Test
  void unknownAndVeryLongModelNamesAreA4xx() throws Exception {
    Reply unknown = post("/inference/" + "m".repeat(2_000), "{\"inputs\": [1]}");
    assertThat(unknown.code()).isEqualTo(404);
    assertThat(unknown.error()).contains("is not configured");
    assertThat(unknown.error().length()).isLessThan(1_000); // the name is cut, not echoed whole
    Reply inBody =
        post("/inference", "{\"model\": \"" + "m".repeat(100_000) + "\", \"inputs\": [1]}");
    assertThat(inBody.code()).isEqualTo(404);
    assertThat(inBody.error().length()).isLessThan(1_000);
    Reply traversal = post("/inference/..%2F..%2Fetc%2Fpasswd", "{\"inputs\": [1]}");
    assertThat(traversal.code()).isBetween(400, 404);
    stillServes();
  }

  @Test
  void noRouteWritesToTheCacheOrLoadsAModel() throws Exception {
    Map<String, String> before = listing(tmp.resolve("cache"));
    String modelsBefore = send(new Request.Builder().url(base + "/models").build()).body();
    List<String> routes = daemon.http().routes();
    assertThat(routes).isNotEmpty();
    for (String route : routes) {
      String path = route.split(" ", 2)[1].replace("{model}", "digits").replace("{name}", "digits");
      for (String method : List.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")) {
        RequestBody body =
            method.equals("GET") || method.equals("HEAD")
                ? null
                : RequestBody.create("{\"inputs\": [1, 2, 3, 4]}", JSON);
        try (Response response =
            http.newCall(new Request.Builder().url(base + path).method(method, body).build())
                .execute()) {
          assertThat(response.code()).as(method + " " + path).isNotEqualTo(500);
        }
      }
    }
    assertThat(listing(tmp.resolve("cache"))).isEqualTo(before);
    String modelsAfter = send(new Request.Builder().url(base + "/models").build()).body();
    assertThat(MAPPER.readTree(modelsAfter).size()).isEqualTo(MAPPER.readTree(modelsBefore).size());
  }

  /** Every path under the cache with its size and modification time. */
  private static Map<String, String> listing(Path root) throws IOException {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        files.put(
            root.relativize(p).toString(),
            (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? Files.size(p) : -1)
                + "@"
                + Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toMillis());
      }
    }
    return files;
  }
}
