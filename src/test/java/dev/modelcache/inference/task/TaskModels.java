package dev.modelcache.inference.task;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.Engines;
import dev.modelcache.inference.Task;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The committed task test models, all-MiniLM-L6-v2 from the langchain4j jar, and DJL loading. */
final class TaskModels {
  static final Path MODELS = Path.of("models").toAbsolutePath();
  static final ObjectMapper JSON = new ObjectMapper();

  private TaskModels() {}

  /** One model's config as the loader reads it from {@code yaml} (the lines under the name). */
  static ModelConfig config(String name, Path dir, String yaml) {
    String text =
        "models:\n  - name: " + name + "\n    source: file:" + dir + "\n" + yaml.indent(4);
    return new ConfigLoader(Map.of(), dir).parse(text, "test.yaml", dir).models().get(0);
  }

  static JsonNode reference(String name) {
    try {
      return JSON.readTree(MODELS.resolve("reference").resolve(name + ".json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * all-MiniLM-L6-v2 as langchain4j ships it, laid out as a repo ({@code model.onnx}, {@code
   * tokenizer.json}) under {@code into}.
   */
  static Path minilm(Path into) {
    return dev.modelcache.TestModels.minilm(into);
  }

  /** A model loaded in the engine {@link Engines} picks, with the task's translator. */
  static final class Loaded<I, O> implements AutoCloseable {
    final Engines.Choice choice;
    final ZooModel<List<I>, List<O>> model;
    final Predictor<List<I>, List<O>> predictor;

    @SuppressWarnings("unchecked")
    Loaded(Task<I, O> task, ModelConfig config, Path dir) throws Exception {
      choice = Engines.resolve(config, dir);
      Class<List<I>> in = (Class<List<I>>) (Class<?>) List.class;
      Class<List<O>> out = (Class<List<O>>) (Class<?>) List.class;
      model =
          Criteria.builder()
              .setTypes(in, out)
              .optEngine(choice.engine())
              .optDevice(Device.cpu())
              .optModelPath(choice.path())
              .optTranslator(task.translator())
              .build()
              .loadModel();
      predictor = model.newPredictor();
    }

    List<O> predict(List<I> items) throws Exception {
      return predictor.predict(items);
    }

    @Override
    public void close() {
      predictor.close();
      model.close();
    }
  }

  @SuppressWarnings("unchecked")
  static <I, O> Task<I, O> task(ModelConfig config, Path dir) throws Exception {
    return (Task<I, O>) BuiltInTasks.create(config, dir);
  }
}
