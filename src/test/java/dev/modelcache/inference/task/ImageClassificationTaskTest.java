package dev.modelcache.inference.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.RawBodyTask;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.V2Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The committed colors classifier (ONNX) through a real OnnxRuntime predictor. */
class ImageClassificationTaskTest {
  private static final Path DIR = TaskModels.MODELS.resolve("colors");
  private static final JsonNode CASES = TaskModels.reference("colors").get("cases");
  private static Task<float[], List<Prediction>> task;
  private static TaskModels.Loaded<float[], List<Prediction>> loaded;

  @BeforeAll
  static void load() throws Exception {
    ModelConfig config = TaskModels.config("colors", DIR, "task: image-classification");
    task = TaskModels.task(config, DIR);
    loaded = new TaskModels.Loaded<>(task, config, DIR);
  }

  @AfterAll
  static void close() {
    loaded.close();
  }

  @Test
  void readsSizeMeanAndStdFromPreprocessorConfigAndRunsInOnnxRuntime() {
    ImagePreprocessor pre = ((ImageClassificationTask) task).preprocessor();
    assertThat(pre.height()).isEqualTo(32);
    assertThat(pre.width()).isEqualTo(32);
    assertThat(pre.mean()).containsExactly(0.5f, 0.5f, 0.5f);
    assertThat(pre.std()).containsExactly(0.25f, 0.25f, 0.25f);
    assertThat(loaded.choice.engine()).isEqualTo("OnnxRuntime");
    assertThat(loaded.model.getNDManager().getEngine().getEngineName()).isEqualTo("OnnxRuntime");
  }

  @Test
  void aBatchOfPngsGivesPyTorchsProbabilitiesAndTheOneByOneResults() throws Exception {
    List<String> images = new ArrayList<>();
    CASES.forEach(c -> images.add(c.get("png_base64").asText()));
    List<float[]> items = task.parse(TaskModels.JSON.valueToTree(images));
    List<List<Prediction>> batched = loaded.predict(items);
    assertThat(batched).hasSize(CASES.size());
    for (int i = 0; i < CASES.size(); i++) {
      JsonNode expected = CASES.get(i);
      List<Prediction> inBatch = batched.get(i);
      assertThat(inBatch.get(0).label()).isEqualTo(expected.get("expected_label").asText());
      assertThat(inBatch).hasSize(4); // default top_k 5, four labels
      if (expected.has("probabilities")) {
        for (Prediction p : inBatch) {
          assertThat(p.score())
              .isCloseTo(
                  (float) expected.get("probabilities").get(p.index()).asDouble(), within(1e-4f));
        }
      }
      List<Prediction> alone = loaded.predict(List.of(items.get(i))).get(0);
      for (int k = 0; k < inBatch.size(); k++) {
        assertThat(inBatch.get(k).index()).isEqualTo(alone.get(k).index());
        assertThat(inBatch.get(k).score()).isCloseTo(alone.get(k).score(), within(1e-6f));
      }
    }
  }

  @Test
  void takesRawBytesAndOpenInferenceProtocolBase64() throws Exception {
    String blue = CASES.get(2).get("png_base64").asText();
    RawBodyTask<?> raw = (RawBodyTask<?>) task;
    assertThat(raw.acceptsRaw("image/png")).isTrue();
    assertThat(raw.acceptsRaw("image/jpeg; q=1")).isTrue();
    assertThat(raw.acceptsRaw("application/json")).isFalse();
    @SuppressWarnings("unchecked")
    List<float[]> fromBody =
        ((RawBodyTask<float[]>) raw).parseRaw(Base64.getDecoder().decode(blue));
    List<float[]> fromV2 =
        task.parseV2(
            List.of(
                new V2Tensor(
                    "image", new long[] {1}, "BYTES", TaskModels.JSON.valueToTree(List.of(blue)))));
    List<float[]> fromDataUrl =
        task.parse(TaskModels.JSON.valueToTree("data:image/png;base64," + blue));
    assertThat(fromBody.get(0)).containsExactly(fromV2.get(0));
    assertThat(fromDataUrl.get(0)).containsExactly(fromV2.get(0));
    List<V2Tensor> out = task.renderV2(loaded.predict(fromBody));
    assertThat(out.get(0).data().get(0).asText()).isEqualTo("blue");
    assertThat(out.get(0).shape()).containsExactly(1, 4);
  }

  @Test
  void resizeAndCentreCropKeepTheColour() throws Exception {
    ModelConfig config =
        TaskModels.config(
            "colors", DIR, "task: image-classification\ntask_options: {resize: 40, top_k: 1}");
    ImageClassificationTask cropped = (ImageClassificationTask) BuiltInTasks.create(config, DIR);
    // 48 x 64 -> shorter side 40 (40 x 53) -> centre 32 x 32
    List<float[]> items =
        cropped.parse(TaskModels.JSON.valueToTree(CASES.get(4).get("png_base64")));
    assertThat(items.get(0)).hasSize(3 * 32 * 32);
    assertThat(loaded.predict(items).get(0).get(0).label()).isEqualTo("blue");
  }

  @Test
  void warmUpItemRuns() throws Exception {
    assertThat(loaded.predict(List.of(task.warmupItem()))).hasSize(1);
  }
}
