package dev.modelcache.inference.task;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.TaskOptions;
import dev.modelcache.config.TaskOptions.Pooling;
import dev.modelcache.inference.Embedder;
import dev.modelcache.inference.ModelLoadException;
import dev.modelcache.inference.Task;
import dev.modelcache.inference.V2Tensor;
import dev.modelcache.inference.task.TextEncoder.ModelInputs;
import dev.modelcache.inference.task.TextEncoder.Tokens;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code text-embedding}: texts in, one vector each out. The model's token vectors ({@code
 * last_hidden_state}) are pooled over the real tokens (mean, {@code [CLS]} or max) and optionally
 * scaled to length 1; a model that outputs {@code sentence_embedding} is taken as pooled already.
 *
 * <p>Pooling and normalisation come from the model config, else from the repo's
 * sentence-transformers files ({@code modules.json}, {@code 1_Pooling/config.json}), else mean and
 * none.
 */
final class TextEmbeddingTask implements Task<Tokens, float[]>, Embedder, AutoCloseable {
  static final String NAME = "text-embedding";
  private static final String EXAMPLE = "[\"a sentence\", \"another one\"]";

  private final TextEncoder encoder;
  private final Pooling pooling;
  private final boolean normalize;

  TextEmbeddingTask(TextEncoder encoder, Pooling pooling, boolean normalize) {
    this.encoder = encoder;
    this.pooling = pooling;
    this.normalize = normalize;
  }

  static TextEmbeddingTask load(ModelConfig model, RepoFiles repo) throws ModelLoadException {
    TaskOptions options = model.taskOptions();
    SentenceTransformers st = SentenceTransformers.read(repo);
    Pooling pooling = options.pooling() != null ? options.pooling() : st.pooling();
    boolean normalize = options.normalize() != null ? options.normalize() : st.normalize();
    return new TextEmbeddingTask(TextEncoder.load(model, repo), pooling, normalize);
  }

  Pooling pooling() {
    return pooling;
  }

  boolean normalize() {
    return normalize;
  }

  int maxLength() {
    return encoder.maxLength();
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Translator<List<Tokens>, List<float[]>> translator() {
    return new EmbeddingTranslator();
  }

  @Override
  public List<Tokens> parse(JsonNode inputs) {
    return encoder.encode(Inputs.strings(inputs, "text", EXAMPLE));
  }

  @Override
  public JsonNode render(List<float[]> outputs) {
    ArrayNode vectors = Inputs.JSON.arrayNode(outputs.size());
    for (float[] vector : outputs) {
      ArrayNode row = vectors.addArray();
      for (float v : vector) {
        row.add(v);
      }
    }
    return vectors;
  }

  @Override
  public Encoded encode(List<String> texts) {
    List<Tokens> items = encoder.encode(texts);
    int tokens = 0;
    for (Tokens item : items) {
      tokens += item.ids().length;
    }
    return new Encoded(items, tokens);
  }

  @Override
  public List<Tokens> parseV2(List<V2Tensor> inputs) {
    return encoder.encode(Inputs.v2Strings(inputs, "text", "text"));
  }

  @Override
  public List<V2Tensor> renderV2(List<float[]> outputs) {
    int dim = outputs.isEmpty() ? 0 : outputs.get(0).length;
    float[] flat = new float[outputs.size() * dim];
    for (int i = 0; i < outputs.size(); i++) {
      System.arraycopy(outputs.get(i), 0, flat, i * dim, dim);
    }
    return List.of(Inputs.fp32("embedding", new long[] {outputs.size(), dim}, flat));
  }

  @Override
  public List<V2Tensor.Spec> inputSpecs() {
    return List.of(new V2Tensor.Spec("text", "BYTES", new long[] {-1}));
  }

  @Override
  public List<V2Tensor.Spec> outputSpecs() {
    return List.of(new V2Tensor.Spec("embedding", "FP32", new long[] {-1, -1}));
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

  /** Pads a batch, runs it, pools each item over its own tokens. */
  private final class EmbeddingTranslator
      implements NoBatchifyTranslator<List<Tokens>, List<float[]>> {
    private static final String LENGTHS = "lengths";

    // DJL calls prepare(), which sets it, before any processInput(): no request reads it unset
    @SuppressWarnings("NullAway.Init")
    private volatile ModelInputs inputs;

    @Override
    public void prepare(TranslatorContext ctx) {
      inputs = TextEncoder.inputsOf(ctx.getModel());
    }

    @Override
    public NDList processInput(TranslatorContext ctx, List<Tokens> items) {
      int[] lengths = new int[items.size()];
      NDList list = encoder.batch(ctx.getNDManager(), items, inputs, lengths);
      ctx.setAttachment(LENGTHS, lengths);
      return list;
    }

    @Override
    public List<float[]> processOutput(TranslatorContext ctx, NDList list) {
      int[] lengths = (int[]) ctx.getAttachment(LENGTHS);
      NDArray out = pick(list);
      long[] shape = out.getShape().getShape();
      float[] data = out.toType(DataType.FLOAT32, false).toFloatArray();
      List<float[]> vectors = new ArrayList<>(lengths.length);
      if (shape.length == 2) {
        int dim = (int) shape[1];
        for (int r = 0; r < lengths.length; r++) {
          float[] v = new float[dim];
          System.arraycopy(data, r * dim, v, 0, dim);
          vectors.add(finish(v));
        }
        return vectors;
      }
      if (shape.length != 3 || shape[0] != lengths.length) {
        throw new IllegalStateException(
            "the model's output has shape "
                + out.getShape()
                + "; text-embedding expects token vectors [N, L, H] or sentence vectors [N, H]");
      }
      int width = (int) shape[1];
      int dim = (int) shape[2];
      for (int r = 0; r < lengths.length; r++) {
        vectors.add(finish(pool(data, r * width * dim, Math.max(1, lengths[r]), dim)));
      }
      return vectors;
    }
  }

  private static NDArray pick(NDList list) {
    for (String name : List.of("sentence_embedding", "last_hidden_state", "token_embeddings")) {
      NDArray named = list.get(name);
      if (named != null) {
        return named;
      }
    }
    return list.get(0);
  }

  /** Pools the first {@code tokens} token vectors of one item starting at {@code offset}. */
  private float[] pool(float[] data, int offset, int tokens, int dim) {
    float[] v = new float[dim];
    switch (pooling) {
      case CLS -> System.arraycopy(data, offset, v, 0, dim);
      case MAX -> {
        System.arraycopy(data, offset, v, 0, dim);
        for (int t = 1; t < tokens; t++) {
          for (int d = 0; d < dim; d++) {
            v[d] = Math.max(v[d], data[offset + t * dim + d]);
          }
        }
      }
      case MEAN -> {
        double[] sum = new double[dim];
        for (int t = 0; t < tokens; t++) {
          for (int d = 0; d < dim; d++) {
            sum[d] += data[offset + t * dim + d];
          }
        }
        for (int d = 0; d < dim; d++) {
          v[d] = (float) (sum[d] / tokens);
        }
      }
    }
    return v;
  }

  private float[] finish(float[] v) {
    if (!normalize) {
      return v;
    }
    double norm = 0;
    for (float x : v) {
      norm += (double) x * x;
    }
    norm = Math.max(Math.sqrt(norm), 1e-12);
    for (int d = 0; d < v.length; d++) {
      v[d] = (float) (v[d] / norm);
    }
    return v;
  }
}
