package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.Translator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The {@code tensor} task: numbers in, numbers out, any shape, dtypes float32, float64, int32,
 * int64 and bool. An item is one request's input tensors (one per model input, each with the batch
 * as dimension 0); a batch of items is their tensors concatenated along dimension 0, and the
 * outputs are split back along dimension 0 by each item's row count. Only items whose tensors agree
 * in count, dtypes and every dimension but the first share a forward pass.
 *
 * <p>When the model's {@code config.json} declares its inputs ({@link TensorSignature}), requests
 * are checked against them, an input without the batch dimension is accepted (and answered without
 * it), and the warm-up runs on zeros of the declared shapes.
 */
public final class TensorTask
    implements Task<TensorTask.Item, TensorTask.Item>,
        BatchKeyed<TensorTask.Item>,
        AnswerRenderer<TensorTask.Item> {

  /**
   * One request's tensors, input or output.
   *
   * @param unbatched the request left out the batch dimension: it was added for the model and is
   *     taken off the answer
   */
  record Item(List<Tensor> tensors, boolean unbatched) {}

  private final List<String> labels;
  private final TensorSignature signature;
  private final TensorRequest request;

  TensorTask(String model, List<String> labels, TensorSignature signature) {
    this.labels = List.copyOf(labels);
    this.signature = signature;
    this.request = new TensorRequest(model, signature);
  }

  /**
   * The tensor task of {@code model}: labels and declared inputs from its {@code config.json}, if
   * it has them.
   */
  public static TensorTask load(ModelConfig model, Path snapshotDir, ObjectMapper json)
      throws ModelLoadException {
    return new TensorTask(
        model.name(),
        ModelMetadata.read(snapshotDir, json, model.name()).labels(),
        TensorSignature.read(snapshotDir, json, model.name()));
  }

  @Override
  public String name() {
    return "tensor";
  }

  @Override
  public Translator<List<Item>, List<Item>> translator() {
    return new TensorTranslator();
  }

  /**
   * A {@link TensorPredictor} for a PyTorch model (its inputs kept from pass to pass on the CPU);
   * DJL's predictor for other engines.
   */
  @Override
  public Predictor<List<Item>, List<Item>> newPredictor(
      ZooModel<List<Item>, List<Item>> model, Device device) {
    if (!"PyTorch".equals(model.getNDManager().getEngine().getEngineName())) {
      return model.newPredictor();
    }
    return new TensorPredictor(model, !device.isGpu());
  }

  @Override
  public List<Item> parse(JsonNode inputs) {
    return List.of(request.parse(inputs));
  }

  @Override
  public List<Item> parseV2(List<V2Tensor> inputs) {
    return List.of(request.parseV2(inputs));
  }

  @Override
  public Object batchKey(Item item) {
    List<Object> key = new ArrayList<>(item.tensors().size());
    for (Tensor tensor : item.tensors()) {
      if (tensor.shape().length == 0) {
        return new Object(); // no batch dimension: shares a forward pass with nothing
      }
      key.add(List.of(tensor.dtype(), tensor.rowShape()));
    }
    return key;
  }

  @Override
  public JsonNode render(List<Item> outputs) {
    if (outputs.size() == 1) {
      return TensorCodec.toJson(answerTensors(outputs.get(0)).get(0));
    }
    ArrayNode all = JsonNodeFactory.instance.arrayNode(outputs.size());
    outputs.forEach(item -> all.add(TensorCodec.toJson(answerTensors(item).get(0))));
    return all;
  }

  @Override
  public void renderAnswer(List<Item> outputs, ObjectNode answer) {
    List<Tensor> tensors = answerTensors(outputs.get(0));
    Tensor first = tensors.get(0);
    answer.set("outputs", TensorCodec.toJson(first));
    ArrayNode shape = answer.putArray("shape");
    for (long dim : first.shape()) {
      shape.add(dim);
    }
    answer.put("dtype", first.dtype());
    int[] best = best(first);
    if (best != null) {
      double[] scores = Objects.requireNonNull(first.floats(), "predictions need floats");
      ArrayNode predictions = answer.putArray("predictions");
      for (int row = 0; row < best.length; row++) {
        ObjectNode prediction = predictions.addObject();
        prediction.put("label", labels.get(best[row]));
        prediction.put("index", best[row]);
        prediction.put("score", scores[row * labels.size() + best[row]]);
      }
    }
    if (tensors.size() > 1) {
      ArrayNode more = answer.putArray("more_outputs");
      for (Tensor tensor : tensors.subList(1, tensors.size())) {
        ObjectNode entry = more.addObject();
        entry.set("outputs", TensorCodec.toJson(tensor));
        ArrayNode dims = entry.putArray("shape");
        for (long dim : tensor.shape()) {
          dims.add(dim);
        }
        entry.put("dtype", tensor.dtype());
      }
    }
  }

  /** The best label's index of each row of {@code first}; null when it gives no predictions. */
  private int @Nullable [] best(Tensor first) {
    long[] s = first.shape();
    long classes = s.length == 0 ? 0 : s[s.length - 1];
    double[] scores = first.floats();
    if (labels.isEmpty() || scores == null || s.length > 2 || classes != labels.size()) {
      return null;
    }
    int[] best = new int[first.size() / labels.size()];
    for (int row = 0; row < best.length; row++) {
      for (int c = 1; c < labels.size(); c++) {
        if (scores[row * labels.size() + c] > scores[row * labels.size() + best[row]]) {
          best[row] = c;
        }
      }
    }
    return best;
  }

  /**
   * The input of a plain {@code POST /inference} body ({@link TensorStream}), read straight from
   * its bytes; null when the body needs the tree path ({@link #parse}).
   */
  @Nullable Tensor stream(byte[] body, int length, String model) {
    return TensorStream.parse(body, length, model, request.declaredDtype(0));
  }

  /** The item of an input of {@link #stream}, checked as {@link #parse} checks it. */
  Item fit(Tensor input) {
    return request.fit(List.of(input), "inputs");
  }

  /** The answer of {@link #renderAnswer} with {@code model} and {@code revision}, as a stream. */
  TensorAnswer answer(String model, String revision, List<Item> outputs) {
    List<Tensor> tensors = answerTensors(outputs.get(0));
    return new TensorAnswer(model, revision, tensors, labels, best(tensors.get(0)));
  }

  /** The output tensors as the request sent its inputs: without the batch dimension if it did. */
  private static List<Tensor> answerTensors(Item item) {
    if (!item.unbatched()) {
      return item.tensors();
    }
    List<Tensor> tensors = new ArrayList<>(item.tensors().size());
    for (Tensor t : item.tensors()) {
      tensors.add(t.shape().length > 0 && t.shape()[0] == 1 ? t.withoutBatch() : t);
    }
    return tensors;
  }

  @Override
  public List<V2Tensor> renderV2(List<Item> outputs) {
    V2TensorAnswer.Outputs all = outputsV2("", outputs);
    List<V2Tensor> tensors = new ArrayList<>(all.tensors().size());
    for (int i = 0; i < all.tensors().size(); i++) {
      Tensor t = all.tensors().get(i);
      tensors.add(
          new V2Tensor(
              all.names().get(i),
              t.shape(),
              TensorCodec.toV2(t.dtype()),
              TensorCodec.toFlatJson(t)));
    }
    return tensors;
  }

  /** The item of the inputs {@link V2Stream} read, checked as {@link #parseV2} checks them. */
  Item fitV2(List<V2Stream.Input> inputs) {
    return request.fitV2(inputs);
  }

  /** The tensors and names of {@link #renderV2}, as arrays, from {@code revision}. */
  V2TensorAnswer.Outputs outputsV2(String revision, List<Item> outputs) {
    List<String> names = new ArrayList<>();
    List<Tensor> tensors = new ArrayList<>();
    for (Item item : outputs) {
      List<Tensor> answer = answerTensors(item);
      for (int i = 0; i < answer.size(); i++) {
        names.add(outputName(i));
        tensors.add(answer.get(i));
      }
    }
    return new V2TensorAnswer.Outputs(revision, names, tensors);
  }

  private String outputName(int index) {
    List<V2Tensor.Spec> declared = signature.outputs();
    return index < declared.size() ? declared.get(index).name() : "output" + index;
  }

  @Override
  public List<V2Tensor.Spec> inputSpecs() {
    return withBatch(signature.inputs());
  }

  @Override
  public List<V2Tensor.Spec> outputSpecs() {
    return withBatch(signature.outputs());
  }

  private static List<V2Tensor.Spec> withBatch(List<V2Tensor.Spec> specs) {
    return specs.stream()
        .map(s -> new V2Tensor.Spec(s.name(), s.datatype(), Tensor.prepend(-1, s.shape())))
        .toList();
  }

  /**
   * Three items of the declared input shapes with distinct values, or none when none are declared.
   */
  @Override
  public List<Item> probeItems() {
    if (signature.inputs().isEmpty()) {
      return List.of();
    }
    return List.of(declared(1), declared(2), declared(3));
  }

  /** Zeros of the declared input shapes (variable dimensions 1), or null when none are declared. */
  @Override
  public @Nullable Item warmupItem() {
    return signature.inputs().isEmpty() ? null : declared(0);
  }

  /**
   * One item of the declared input shapes (variable dimensions 1): zeros for {@code k} 0, else
   * values that differ from item to item.
   */
  private Item declared(int k) {
    List<Tensor> tensors = new ArrayList<>();
    for (V2Tensor.Spec spec : signature.inputs()) {
      long[] shape = Tensor.prepend(1, spec.shape());
      int size = 1;
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shape[i] == -1 ? 1 : shape[i];
        size = Math.multiplyExact(size, Math.toIntExact(shape[i]));
      }
      double[] floats = new double[size];
      long[] ints = new long[size];
      boolean[] bools = new boolean[size];
      for (int i = 0; k > 0 && i < size; i++) {
        floats[i] = k * 0.75 + i * 0.125 * (k % 2 == 0 ? -1 : 1);
        ints[i] = (long) k + i;
        bools[i] = (k + i) % 2 == 0;
      }
      String dtype = TensorCodec.fromV2(spec.datatype(), spec.name());
      tensors.add(
          switch (dtype) {
            case "float32", "float64" -> Tensor.ofFloats(dtype, shape, floats);
            case "bool" -> Tensor.ofBools(shape, bools);
            default -> Tensor.ofInts(dtype, shape, ints);
          });
    }
    return new Item(tensors, false);
  }
}
