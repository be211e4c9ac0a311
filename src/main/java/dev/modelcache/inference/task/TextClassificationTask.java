package dev.modelcache.inference.task;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.V2Tensor;
import dev.modelcache.inference.task.TextEncoder.ModelInputs;
import dev.modelcache.inference.task.TextEncoder.Tokens;
import java.util.List;

/**
 * {@code text-classification}: texts in, the top k labels with their scores out. Labels come from
 * the repo's {@code config.json} ({@code id2label}); the model's output ({@code logits}, {@code [N,
 * classes]}) becomes scores by softmax, or by sigmoid when {@code config.json} says {@code
 * problem_type: multi_label_classification}, unless {@code task_options.scores} says otherwise.
 */
final class TextClassificationTask implements Task<Tokens, List<Prediction>>, AutoCloseable {
  static final String NAME = "text-classification";
  private static final String EXAMPLE = "[\"what a wonderful day\", \"the service was slow\"]";

  private final TextEncoder encoder;
  private final Classifier classifier;

  TextClassificationTask(TextEncoder encoder, Classifier classifier) {
    this.encoder = encoder;
    this.classifier = classifier;
  }

  static TextClassificationTask load(ModelConfig model, RepoFiles repo) throws ModelLoadException {
    return new TextClassificationTask(TextEncoder.load(model, repo), Classifier.of(model, repo));
  }

  Classifier classifier() {
    return classifier;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Translator<List<Tokens>, List<List<Prediction>>> translator() {
    return new ClassificationTranslator();
  }

  @Override
  public List<Tokens> parse(JsonNode inputs) {
    return encoder.encode(Inputs.strings(inputs, "text", EXAMPLE));
  }

  @Override
  public JsonNode render(List<List<Prediction>> outputs) {
    return Classifier.render(outputs);
  }

  @Override
  public List<Tokens> parseV2(List<V2Tensor> inputs) {
    return encoder.encode(Inputs.v2Strings(inputs, "text", "text"));
  }

  @Override
  public List<V2Tensor> renderV2(List<List<Prediction>> outputs) {
    return Classifier.renderV2(outputs);
  }

  @Override
  public List<V2Tensor.Spec> inputSpecs() {
    return List.of(new V2Tensor.Spec("text", "BYTES", new long[] {-1}));
  }

  @Override
  public List<V2Tensor.Spec> outputSpecs() {
    return classifier.outputSpecs();
  }

  @Override
  public Tokens warmupItem() {
    return encoder.encode(List.of("modelcache warm-up")).get(0);
  }

  @Override
  public List<Tokens> probeItems() {
    return encoder.encode(TextEncoder.PROBE_TEXTS);
  }

  @Override
  public void close() {
    encoder.close();
  }

  /** Pads a batch, runs it, scores each row. */
  private final class ClassificationTranslator
      implements NoBatchifyTranslator<List<Tokens>, List<List<Prediction>>> {
    // DJL calls prepare(), which sets it, before any processInput(): no request reads it unset
    @SuppressWarnings("NullAway.Init")
    private volatile ModelInputs inputs;

    @Override
    public void prepare(TranslatorContext ctx) {
      inputs = TextEncoder.inputsOf(ctx.getModel());
    }

    @Override
    public NDList processInput(TranslatorContext ctx, List<Tokens> items) {
      return encoder.batch(ctx.getNDManager(), items, inputs, new int[items.size()]);
    }

    @Override
    public List<List<Prediction>> processOutput(TranslatorContext ctx, NDList list) {
      NDArray logits = list.get("logits");
      return classifier.rows(logits == null ? list.get(0) : logits);
    }
  }
}
