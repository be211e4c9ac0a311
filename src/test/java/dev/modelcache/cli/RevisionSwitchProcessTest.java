package dev.modelcache.cli;

import static dev.modelcache.cli.ReloadProcessTest.EVERY;
import static dev.modelcache.cli.ReloadProcessTest.WAIT;
import static dev.modelcache.cli.ReloadProcessTest.client;
import static dev.modelcache.cli.ReloadProcessTest.get;
import static dev.modelcache.cli.ReloadProcessTest.hup;
import static dev.modelcache.cli.ReloadProcessTest.infer;
import static dev.modelcache.cli.ReloadProcessTest.model;
import static dev.modelcache.cli.ReloadProcessTest.yaml;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.Poll;
import dev.modelcache.TestModels;
import dev.modelcache.cli.ReloadProcessTest.Reply;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model's revision switched under a constant load (two local snapshots of iris that differ by a
 * file, so by their snapshot id): no request fails, each answer names one of the two revisions, and
 * the new one only once the switch is done. Then a revision whose model cannot load: the old one
 * keeps serving and {@code /health}, {@code /models} and the metrics say why.
 */
class RevisionSwitchProcessTest {
  @TempDir Path tmp;

  @Test
  void switchesRevisionUnderLoadWithoutAFailedRequestAndKeepsTheOldOneWhenTheNewFails()
      throws Exception {
    Path v1 = TestModels.copy("iris", tmp.resolve("v1"));
    Path v2 = TestModels.copy("iris", tmp.resolve("v2"));
    Files.writeString(v2.resolve("README.md"), "iris, second revision\n");
    Path v3 = TestModels.copy("iris", tmp.resolve("v3"));
    Files.write(v3.resolve("model.pt"), new byte[] {'n', 'o', 't', ' ', 'a', ' ', 'z', 'i', 'p'});
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(config, yaml(tmp, "", model("iris", v1)));
    OkHttpClient http = client();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (ChildDaemon child = ChildDaemon.start(config, Map.of())) {
      String base = "http://127.0.0.1:" + child.awaitReady(WAIT);
      String first = infer(http, base, "iris").json().get("revision").asText();

      List<Reply> replies = Collections.synchronizedList(new ArrayList<>());
      AtomicBoolean stop = new AtomicBoolean();
      Future<?> load =
          pool.submit(
              () -> {
                while (!stop.get()) {
                  replies.add(infer(http, base, "iris"));
                }
                return null;
              });
      Poll.until(WAIT, EVERY, "answers before the switch", () -> replies.size() >= 20);
      Files.writeString(config, yaml(tmp, "", model("iris", v2)));
      hup(child);
      String second =
          Poll.until(
              WAIT,
              EVERY,
              () -> revisionOf(http, base),
              revision -> !revision.equals(first),
              revision -> "still " + revision);
      child.awaitMessage(m -> m.equals("iris - revision " + first + " drained and unloaded"), WAIT);
      int switched = replies.size();
      Poll.until(WAIT, EVERY, "answers after the switch", () -> replies.size() >= switched + 20);
      stop.set(true);
      load.get();

      List<Reply> all = List.copyOf(replies);
      assertThat(all).allSatisfy(reply -> assertThat(reply.code()).as(reply.body()).isEqualTo(200));
      List<String> revisions = new ArrayList<>();
      for (Reply reply : all) {
        revisions.add(reply.json().get("revision").asText());
      }
      assertThat(Set.copyOf(revisions)).containsExactlyInAnyOrder(first, second);
      assertThat(revisions.subList(switched, revisions.size())).containsOnly(second);
      // once the new revision answers, the old one never does again
      assertThat(revisions.subList(revisions.indexOf(second), revisions.size()))
          .containsOnly(second);

      Files.writeString(config, yaml(tmp, "", model("iris", v3)));
      hup(child);
      JsonNode health =
          Poll.until(
              WAIT,
              EVERY,
              () -> irisIn(get(http, base + "/health").json()),
              iris -> iris.has("update_error"),
              iris -> "no update_error yet: " + iris);
      assertThat(health.get("state").asText()).isEqualTo("READY");
      assertThat(health.get("update_error").asText()).contains("iris");
      assertThat(health.has("update_retry_at")).isTrue();
      Reply answer = infer(http, base, "iris");
      assertThat(answer.code()).isEqualTo(200);
      assertThat(answer.json().get("revision").asText()).isEqualTo(second);
      assertThat(get(http, base + "/models/iris").json().get("update_error").asText())
          .isEqualTo(health.get("update_error").asText());
      assertThat(get(http, base + "/metrics").body())
          .contains("modelcache_model_update_failed{model=\"iris\"} 1.0");
    } finally {
      pool.shutdownNow();
    }
  }

  private static String revisionOf(OkHttpClient http, String base) throws Exception {
    JsonNode models = get(http, base + "/models/iris").json();
    return models.path("revision").asText();
  }

  private static JsonNode irisIn(JsonNode health) {
    for (JsonNode model : health.get("models")) {
      if (model.get("name").asText().equals("iris")) {
        return model;
      }
    }
    throw new AssertionError("no iris in " + health);
  }
}
