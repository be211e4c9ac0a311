package dev.modelcache.inference.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.TaskOptions.Pooling;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.V2Tensor;
import dev.modelcache.inference.task.TextEncoder.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2 (ONNX and tokenizer.json from the langchain4j artifact) through a real
 * OnnxRuntime predictor, against langchain4j's own in-process embeddings.
 */
class TextEmbeddingTaskTest {
  private static final List<String> SENTENCES =
      List.of(
          "Hello!",
          "modelcache serves models from a shared volume.",
          "The quick brown fox jumps over the lazy dog, then naps in the warm afternoon sun by the river.",
          "Ein Satz auf Deutsch, mit Umlauten: Grüße aus Köln.",
          "a");

  @TempDir static Path tmp;
  private static Path dir;
  private static Task<Tokens, float[]> task;
  private static TaskModels.Loaded<Tokens, float[]> loaded;

  @BeforeAll
  static void load() throws Exception {
    dir = TaskModels.minilm(tmp);
    // langchain4j's jar lacks the sentence-transformers files: pooling and normalisation are set.
    ModelConfig config =
        TaskModels.config(
            "minilm", dir, "task: text-embedding\ntask_options: {pooling: mean, normalize: true}");
    task = TaskModels.task(config, dir);
    loaded = new TaskModels.Loaded<>(task, config, dir);
  }

  @AfterAll
  static void close() {
    loaded.close();
    ((TextEmbeddingTask) task).close();
  }

  @Test
  void matchesLangchain4jsOwnEmbeddings() throws Exception {
    AllMiniLmL6V2EmbeddingModel reference = new AllMiniLmL6V2EmbeddingModel();
    List<float[]> served = loaded.predict(task.parse(TaskModels.JSON.valueToTree(SENTENCES)));
    for (int i = 0; i < SENTENCES.size(); i++) {
      float[] expected = reference.embed(SENTENCES.get(i)).content().vector();
      assertThat(served.get(i)).hasSize(384);
      assertThat(cosine(served.get(i), expected))
          .as(SENTENCES.get(i))
          .isGreaterThanOrEqualTo(0.999);
      assertThat(norm(served.get(i))).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
    }
  }

  @Test
  void aBatchOfTextsOfDifferentLengthsEqualsOneByOne() throws Exception {
    List<Tokens> items = task.parse(TaskModels.JSON.valueToTree(SENTENCES));
    assertThat(items.stream().mapToInt(t -> t.ids().length).distinct().count()).isGreaterThan(3);
    List<float[]> batched = loaded.predict(items);
    for (int i = 0; i < items.size(); i++) {
      float[] alone = loaded.predict(List.of(items.get(i))).get(0);
      assertThat(cosine(batched.get(i), alone)).as(SENTENCES.get(i)).isGreaterThan(0.99999);
      for (int d = 0; d < alone.length; d++) {
        assertThat(batched.get(i)[d]) // padded to the longest: the same answer within 1e-5
            .isCloseTo(alone[d], org.assertj.core.data.Offset.offset(1e-5f));
      }
    }
  }

  @Test
  void readsPoolingFromSentenceTransformersFiles() throws Exception {
    Files.writeString(
        dir.resolve("modules.json"),
        "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
            + "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    Files.createDirectories(dir.resolve("1_Pooling"));
    Files.writeString(
        dir.resolve("1_Pooling/config.json"),
        "{\"word_embedding_dimension\":384,\"pooling_mode_cls_token\":true,"
            + "\"pooling_mode_mean_tokens\":false}");
    Files.writeString(dir.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 16}");
    try {
      ModelConfig config = TaskModels.config("minilm", dir, "task: text-embedding");
      try (TextEmbeddingTask fromFiles = (TextEmbeddingTask) BuiltInTasks.create(config, dir)) {
        assertThat(fromFiles.pooling()).isEqualTo(Pooling.CLS);
        assertThat(fromFiles.normalize()).isFalse();
        assertThat(fromFiles.maxLength()).isEqualTo(16);
        // truncated to 16 tokens, [CLS] and [SEP] included
        assertThat(fromFiles.parse(TaskModels.JSON.valueToTree(SENTENCES.get(2))).get(0).ids())
            .hasSize(16);
      }
    } finally {
      Files.delete(dir.resolve("modules.json"));
      Files.delete(dir.resolve("1_Pooling/config.json"));
      Files.delete(dir.resolve("sentence_bert_config.json"));
    }
  }

  @Test
  void rendersVectorsInJsonAndOpenInferenceProtocol() throws Exception {
    List<float[]> out = loaded.predict(task.parse(TaskModels.JSON.valueToTree(List.of("a", "b"))));
    JsonNode json = task.render(out);
    assertThat(json).hasSize(2);
    assertThat(json.get(1)).hasSize(384);
    List<V2Tensor> v2 = task.renderV2(out);
    assertThat(v2)
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.name()).isEqualTo("embedding");
              assertThat(t.datatype()).isEqualTo("FP32");
              assertThat(t.shape()).containsExactly(2, 384);
              assertThat(t.data()).hasSize(768);
              assertThat(t.data().get(384).floatValue()).isEqualTo(out.get(1)[0]);
            });
    assertThat(loaded.predict(List.of(task.warmupItem()))).hasSize(1);
  }

  private static double cosine(float[] a, float[] b) {
    double dot = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
    }
    return dot / (norm(a) * norm(b));
  }

  private static double norm(float[] a) {
    double s = 0;
    for (float x : a) {
      s += (double) x * x;
    }
    return Math.sqrt(s);
  }
}
