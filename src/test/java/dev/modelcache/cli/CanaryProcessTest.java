package dev.modelcache.cli;

import static dev.modelcache.cli.ReloadProcessTest.EVERY;
import static dev.modelcache.cli.ReloadProcessTest.JSON_TYPE;
import static dev.modelcache.cli.ReloadProcessTest.WAIT;
import static dev.modelcache.cli.ReloadProcessTest.client;
import static dev.modelcache.cli.ReloadProcessTest.get;
import static dev.modelcache.cli.ReloadProcessTest.hup;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.cli.ReloadProcessTest.Reply;
import dev.modelcache.source.hub.FakeHub;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two Hub revisions of iris side by side in a daemon process: a canary at weight 10 answers its
 * share of 1,000 requests (within 3 points), each revision is reached by name ({@code /inference}
 * {@code "revision"}, the OIP {@code /versions/{v}} routes), an unknown one is a 404 naming those
 * loaded, and the canary is promoted by editing the config, the replaced revision kept addressable
 * ({@code versions: 2}).
 */
class CanaryProcessTest {
  private static final int REQUESTS = 1000;
  private static final String INPUT = "[5.1, 3.4, 1.5, 0.2]";
  private static final String V2_INPUT =
      "{\"inputs\": [{\"name\": \"input0\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\":"
          + " [5.1, 3.4, 1.5, 0.2]}]}";

  @TempDir Path tmp;

  @Test
  void splitsTrafficToTheCanaryAddressesEachRevisionAndPromotesByConfig() throws Exception {
    try (FakeHub hub = FakeHub.start()) {
      FakeHub.Repo repo =
          hub.repo("demo/iris")
              .file("model.pt", TestModels.MODELS.resolve("iris/model.pt"), true)
              .file("config.json", TestModels.MODELS.resolve("iris/config.json"), false);
      String v1 = repo.commit();
      String v2 =
          repo.file("README.md", "iris, second revision\n".getBytes(StandardCharsets.UTF_8), false)
              .commit("v2");
      Path config = tmp.resolve("modelcache.yaml");
      Files.writeString(
          config, yaml(hub, "hf://demo/iris", "    canary: {revision: v2, weight: 10}\n"));
      OkHttpClient http = client();
      try (ChildDaemon child = ChildDaemon.start(config, Map.of())) {
        String base = "http://127.0.0.1:" + child.awaitReady(WAIT);
        JsonNode models =
            Poll.until(
                WAIT,
                EVERY,
                () -> get(http, base + "/models/iris").json(),
                m -> m.has("revisions"),
                m -> "no canary loaded yet: " + m);
        assertThat(models.get("revisions").toString())
            .isEqualTo(
                "[{\"revision\":\""
                    + v1
                    + "\",\"role\":\"primary\"},{\"revision\":\""
                    + v2
                    + "\",\"role\":\"canary\"}]");

        int canary = split(http, base, v1, v2);
        double share = 100.0 * canary / REQUESTS;
        System.out.printf("canary share over %d requests: %.1f %%%n", REQUESTS, share);
        assertThat(share).isBetween(7.0, 13.0);
        String metrics = get(http, base + "/metrics").body();
        assertThat(metrics)
            .contains(
                "modelcache_revision_requests_total{model=\"iris\",outcome=\"success\",revision=\""
                    + v2
                    + "\"} "
                    + canary
                    + ".0");

        assertThat(revisionOf(infer(http, base, v2))).isEqualTo(v2);
        assertThat(revisionOf(infer(http, base, v1.substring(0, 7)))).isEqualTo(v1);
        assertThat(revisionOf(infer(http, base, "v2"))).isEqualTo(v2);
        for (String revision : List.of(v1, v2)) {
          Reply v2Answer = post(http, base + "/v2/models/iris/versions/" + revision + "/infer");
          assertThat(v2Answer.code()).as(v2Answer.body()).isEqualTo(200);
          assertThat(v2Answer.json().get("model_version").asText()).isEqualTo(revision);
          assertThat(get(http, base + "/v2/models/iris/versions/" + revision + "/ready").code())
              .isEqualTo(200);
        }
        Reply unknown = post(http, base + "/v2/models/iris/versions/0123456789abc/infer");
        assertThat(unknown.code()).isEqualTo(404);
        assertThat(unknown.json().get("error").asText())
            .isEqualTo(
                "model 'iris' has no revision '0123456789abc' loaded; loaded: "
                    + v1
                    + " (primary), "
                    + v2
                    + " (canary)");
        Reply badType = inferBody(http, base, "{\"inputs\": " + INPUT + ", \"revision\": 3}");
        assertThat(badType.code()).isEqualTo(400);

        // promotion: the canary's revision becomes the source's, the canary goes
        Files.writeString(config, yaml(hub, "hf://demo/iris@v2", "    versions: 2\n"));
        hup(child);
        Poll.until(
            WAIT,
            EVERY,
            () -> get(http, base + "/models/iris").json(),
            m -> m.path("revision").asText().equals(v2),
            m -> "not promoted yet: " + m);
        child.awaitMessage(
            m ->
                m.equals(
                    "iris - now serves revision "
                        + v2
                        + " (already loaded: no reload), previous "
                        + v1),
            WAIT);
        for (int i = 0; i < 50; i++) {
          assertThat(revisionOf(infer(http, base, null))).isEqualTo(v2);
        }
        assertThat(revisionOf(infer(http, base, v1))).isEqualTo(v1);
        assertThat(get(http, base + "/models/iris").json().get("revisions").toString())
            .isEqualTo(
                "[{\"revision\":\""
                    + v2
                    + "\",\"role\":\"primary\"},{\"revision\":\""
                    + v1
                    + "\",\"role\":\"previous\"}]");
      }
    }
  }

  /** 1,000 requests naming no revision, 4 at a time; returns how many the canary answered. */
  private static int split(OkHttpClient http, String base, String v1, String v2) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<String>> answers = new ArrayList<>();
      for (int i = 0; i < REQUESTS; i++) {
        answers.add(pool.submit(() -> revisionOf(infer(http, base, null))));
      }
      int canary = 0;
      for (Future<String> answer : answers) {
        String revision = answer.get();
        assertThat(revision).isIn(v1, v2);
        canary += revision.equals(v2) ? 1 : 0;
      }
      return canary;
    } finally {
      pool.shutdownNow();
    }
  }

  private String yaml(FakeHub hub, String source, String extra) {
    return "cache:\n  dir: "
        + tmp.resolve("cache")
        + "\nsources:\n  hf:\n    endpoint: "
        + hub.endpoint()
        + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  shutdown_grace_seconds: 10\nmodels:\n"
        + "  - name: iris\n    source: "
        + source
        + "\n"
        + extra;
  }

  private static String revisionOf(Reply reply) throws IOException {
    assertThat(reply.code()).as(reply.body()).isEqualTo(200);
    return reply.json().get("revision").asText();
  }

  private static Reply infer(OkHttpClient http, String base, String revision) throws IOException {
    return inferBody(
        http,
        base,
        "{\"inputs\": "
            + INPUT
            + (revision == null ? "" : ", \"revision\": \"" + revision + "\"")
            + "}");
  }

  private static Reply inferBody(OkHttpClient http, String base, String body) throws IOException {
    return send(http, base + "/inference/iris", body);
  }

  private static Reply post(OkHttpClient http, String url) throws IOException {
    return send(http, url, V2_INPUT);
  }

  private static Reply send(OkHttpClient http, String url, String body) throws IOException {
    Request request =
        new Request.Builder().url(url).post(RequestBody.create(body, JSON_TYPE)).build();
    try (Response response = http.newCall(request).execute()) {
      return new Reply(response.code(), response.body().string());
    }
  }
}
