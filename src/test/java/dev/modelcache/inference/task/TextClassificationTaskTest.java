package dev.modelcache.inference.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.TaskOptions.Scores;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.V2Tensor;
import dev.modelcache.inference.task.TextEncoder.Tokens;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The committed sentiment classifier (TorchScript) through a real PyTorch predictor. */
class TextClassificationTaskTest {
  private static final Path DIR = TaskModels.MODELS.resolve("sentiment");
  private static final JsonNode CASES = TaskModels.reference("sentiment").get("cases");
  private static Task<Tokens, List<Prediction>> task;
  private static TaskModels.Loaded<Tokens, List<Prediction>> loaded;

  @BeforeAll
  static void load() throws Exception {
    ModelConfig config =
        TaskModels.config("sentiment", DIR, "task: text-classification\ntask_options: {top_k: 0}");
    task = TaskModels.task(config, DIR);
    loaded = new TaskModels.Loaded<>(task, config, DIR);
  }

  @AfterAll
  static void close() {
    loaded.close();
    ((TextClassificationTask) task).close();
  }

  private static List<String> texts() {
    List<String> texts = new ArrayList<>();
    CASES.forEach(c -> texts.add(c.get("text").asText()));
    return texts;
  }

  @Test
  void readsLabelsAndScoresFromTheRepo() {
    Classifier classifier = ((TextClassificationTask) task).classifier();
    assertThat(classifier.labels()).containsExactly("negative", "neutral", "positive");
    assertThat(classifier.scores()).isEqualTo(Scores.SOFTMAX);
    assertThat(task.name()).isEqualTo("text-classification");
  }

  @Test
  void tokenizesAsTheScriptDid() {
    List<Tokens> items = task.parse(TaskModels.JSON.valueToTree(texts()));
    for (int i = 0; i < CASES.size(); i++) {
      long[] expected = TaskModels.JSON.convertValue(CASES.get(i).get("input_ids"), long[].class);
      assertThat(items.get(i).ids())
          .as(CASES.get(i).get("text").asText())
          .containsExactly(expected);
    }
  }

  @Test
  void aBatchOfTextsOfDifferentLengthsGivesPyTorchsProbabilitiesAndTheOneByOneResults()
      throws Exception {
    List<Tokens> items = task.parse(TaskModels.JSON.valueToTree(texts()));
    List<List<Prediction>> batched = loaded.predict(items);
    assertThat(batched).hasSize(CASES.size());
    for (int i = 0; i < CASES.size(); i++) {
      JsonNode expected = CASES.get(i);
      List<Prediction> alone = loaded.predict(List.of(items.get(i))).get(0);
      List<Prediction> inBatch = batched.get(i);
      assertThat(inBatch.get(0).label())
          .as(expected.get("text").asText())
          .isEqualTo(expected.get("label").asText());
      assertThat(inBatch).hasSize(3);
      for (Prediction p : inBatch) {
        assertThat(p.score())
            .as(expected.get("text").asText() + " " + p.label())
            .isCloseTo(
                (float) expected.get("probabilities").get(p.index()).asDouble(), within(1e-5f));
      }
      for (int k = 0; k < 3; k++) {
        assertThat(inBatch.get(k).index()).isEqualTo(alone.get(k).index());
        assertThat(inBatch.get(k).score()).isCloseTo(alone.get(k).score(), within(1e-6f));
      }
    }
  }

  @Test
  void rendersLabelsBestFirstInJsonAndOpenInferenceProtocol() throws Exception {
    List<List<Prediction>> out = loaded.predict(task.parse(TaskModels.JSON.valueToTree("great")));
    JsonNode json = task.render(out);
    assertThat(json.get(0).get(0).get("label").asText()).isEqualTo("positive");
    assertThat(json.get(0).get(0).get("index").asInt()).isEqualTo(2);
    assertThat(json.get(0)).hasSize(3);
    List<V2Tensor> v2 = task.renderV2(out);
    assertThat(v2).extracting(V2Tensor::name).containsExactly("label", "index", "score");
    assertThat(v2).extracting(V2Tensor::datatype).containsExactly("BYTES", "INT64", "FP32");
    assertThat(v2.get(0).shape()).containsExactly(1, 3);
    assertThat(v2.get(0).data().get(0).asText()).isEqualTo("positive");
    assertThat(v2.get(2).data()).hasSize(3);
  }

  @Test
  void topKLimitsTheLabels() throws Exception {
    ModelConfig config =
        TaskModels.config("sentiment", DIR, "task: text-classification\ntask_options: {top_k: 1}");
    try (TextClassificationTask top1 = (TextClassificationTask) BuiltInTasks.create(config, DIR);
        TaskModels.Loaded<Tokens, List<Prediction>> model =
            new TaskModels.Loaded<>(top1, config, DIR)) {
      List<List<Prediction>> out =
          model.predict(top1.parse(TaskModels.JSON.valueToTree(List.of("awful", "nice"))));
      assertThat(out).extracting(p -> p.get(0).label()).containsExactly("negative", "positive");
      assertThat(out).allSatisfy(p -> assertThat(p).hasSize(1));
      assertThat(top1.outputSpecs().get(0).shape()).containsExactly(-1, 1);
    }
  }

  @Test
  void takesOpenInferenceProtocolBytes() {
    List<Tokens> items =
        task.parseV2(
            List.of(
                new V2Tensor(
                    "text",
                    new long[] {2},
                    "BYTES",
                    TaskModels.JSON.valueToTree(List.of("great", "the worst")))));
    assertThat(items).hasSize(2);
    assertThat(items.get(1).ids()).hasSize(2);
    assertThat(task.inputSpecs().get(0).datatype()).isEqualTo("BYTES");
    assertThat(task.warmupItem().ids()).isNotEmpty();
  }
}
