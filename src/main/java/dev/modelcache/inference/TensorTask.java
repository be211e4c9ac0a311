package dev.modelcache.inference;

import ai.djl.translate.Translator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
final class TensorTask
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

  private static final Set<String> TYPED_FIELDS = Set.of("name", "data", "dtype", "shape");

  private final String model;
  private final List<String> labels;
  private final TensorSignature signature;

  TensorTask(String model, List<String> labels, TensorSignature signature) {
    this.model = model;
    this.labels = List.copyOf(labels);
    this.signature = signature;
  }

  @Override
  public String name() {
    return "tensor";
  }

  @Override
  public Translator<List<Item>, List<Item>> translator() {
    return new TensorTranslator();
  }

  @Override
  public List<Item> parse(JsonNode inputs) {
    List<Tensor> tensors = new ArrayList<>();
    if (inputs.isObject()) {
      tensors.add(typed(inputs, "inputs", 0));
    } else if (inputs.isArray() && !inputs.isEmpty() && inputs.get(0).isObject()) {
      for (int i = 0; i < inputs.size(); i++) {
        if (!inputs.get(i).isObject()) {
          throw new InvalidInputException(
              "inputs["
                  + i
                  + "] is "
                  + TensorCodec.kind(inputs.get(i))
                  + "; expected an object"
                  + " {\"data\": ..., \"dtype\": ...} like inputs[0]");
        }
        tensors.add(typed(inputs.get(i), "inputs[" + i + "]", i));
      }
    } else {
      tensors.add(TensorCodec.parseNested(inputs, "inputs", declaredDtype(0)));
    }
    return List.of(fit(tensors, "inputs"));
  }

  private Tensor typed(JsonNode node, String path, int index) {
    for (String field : (Iterable<String>) node::fieldNames) {
      if (!TYPED_FIELDS.contains(field)) {
        throw new InvalidInputException(
            path + " has an unknown field '" + field + "' (allowed: data, dtype, shape, name)");
      }
    }
    JsonNode data = node.get("data");
    if (data == null || data.isNull()) {
      throw new InvalidInputException(path + " has no 'data' (a number or nested array)");
    }
    JsonNode dtypeNode = node.get("dtype");
    if (dtypeNode != null && !dtypeNode.isTextual()) {
      throw new InvalidInputException(
          path + ".dtype must be a string: one of " + String.join(", ", TensorCodec.DTYPES));
    }
    String dtype =
        dtypeNode == null
            ? declaredDtype(index)
            : TensorCodec.dtype(dtypeNode.asText(), path + ".dtype");
    JsonNode shape = node.get("shape");
    if (shape == null || shape.isNull()) {
      return TensorCodec.parseNested(data, path + ".data", dtype);
    }
    if (dtype == null) {
      dtype = firstLeaf(data).isBoolean() ? "bool" : "float32";
    }
    return TensorCodec.parseFlat(data, shapeOf(shape, path + ".shape"), dtype, path + ".data");
  }

  private static JsonNode firstLeaf(JsonNode node) {
    JsonNode leaf = node;
    while (leaf.isArray() && !leaf.isEmpty()) {
      leaf = leaf.get(0);
    }
    return leaf;
  }

  static long[] shapeOf(JsonNode shape, String path) {
    if (!shape.isArray()) {
      throw new InvalidInputException(path + " must be a list of whole numbers");
    }
    long[] dims = new long[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      JsonNode d = shape.get(i);
      if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
        throw new InvalidInputException(
            path + "[" + i + "] is " + d + "; dimensions are whole numbers >= 0");
      }
      dims[i] = d.asLong();
    }
    return dims;
  }

  private String declaredDtype(int index) {
    List<V2Tensor.Spec> inputs = signature.inputs();
    return index < inputs.size()
        ? TensorCodec.fromV2(inputs.get(index).datatype(), inputs.get(index).name())
        : null;
  }

  /**
   * Checks the tensors against the declared inputs; adds the batch dimension when the request left
   * it out.
   */
  private Item fit(List<Tensor> tensors, String what) {
    List<V2Tensor.Spec> declared = signature.inputs();
    if (declared.isEmpty()) {
      return new Item(List.copyOf(tensors), false);
    }
    if (tensors.size() != declared.size()) {
      throw new InvalidInputException(
          "model "
              + model
              + " takes "
              + declared.size()
              + " input tensor(s) ("
              + String.join(", ", declared.stream().map(V2Tensor.Spec::name).toList())
              + ") but the request has "
              + tensors.size());
    }
    Boolean unbatched = null;
    long rows = -1;
    for (int i = 0; i < tensors.size(); i++) {
      Tensor tensor = tensors.get(i);
      V2Tensor.Spec spec = declared.get(i);
      String label = declared.size() == 1 ? what : "input '" + spec.name() + "'";
      String dtype = TensorCodec.fromV2(spec.datatype(), spec.name());
      if (!tensor.dtype().equals(dtype)) {
        throw new InvalidInputException(
            label + " is " + tensor.dtype() + " but model " + model + " takes " + dtype);
      }
      long[] shape = tensor.shape();
      boolean one = matches(shape, spec.shape());
      boolean many =
          shape.length == spec.shape().length + 1
              && matches(Arrays.copyOfRange(shape, 1, shape.length), spec.shape());
      if (!one && !many) {
        throw new InvalidInputException(
            label
                + (label.equals("inputs") ? " have shape " : " has shape ")
                + Arrays.toString(shape)
                + " but model "
                + model
                + " takes "
                + describe(spec.shape(), false)
                + " (one input) or "
                + describe(spec.shape(), true)
                + " (a batch)");
      }
      if (unbatched != null && unbatched != one) {
        throw new InvalidInputException(
            "the inputs of model "
                + model
                + " must all have the batch dimension or none; input '"
                + spec.name()
                + "' differs from the first");
      }
      unbatched = one;
      if (many) {
        if (rows >= 0 && shape[0] != rows) {
          throw new InvalidInputException(
              "input '"
                  + spec.name()
                  + "' has "
                  + shape[0]
                  + " rows but the first input has "
                  + rows
                  + "; every input needs the same batch size");
        }
        rows = shape[0];
      }
    }
    if (Boolean.TRUE.equals(unbatched)) {
      return new Item(tensors.stream().map(Tensor::withBatchOfOne).toList(), true);
    }
    return new Item(List.copyOf(tensors), false);
  }

  private static boolean matches(long[] shape, long[] declared) {
    if (shape.length != declared.length) {
      return false;
    }
    for (int i = 0; i < shape.length; i++) {
      if (declared[i] != -1 && declared[i] != shape[i]) {
        return false;
      }
    }
    return true;
  }

  private static String describe(long[] declared, boolean batch) {
    List<String> dims = new ArrayList<>();
    if (batch) {
      dims.add("N");
    }
    for (long d : declared) {
      dims.add(d == -1 ? "*" : Long.toString(d));
    }
    return "[" + String.join(", ", dims) + "]";
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
    Arrays.stream(first.shape()).forEach(shape::add);
    answer.put("dtype", first.dtype());
    long[] s = first.shape();
    long classes = s.length == 0 ? 0 : s[s.length - 1];
    if (!labels.isEmpty() && first.floats() != null && s.length <= 2 && classes == labels.size()) {
      ArrayNode predictions = answer.putArray("predictions");
      int rows = first.size() / labels.size();
      for (int row = 0; row < rows; row++) {
        int best = 0;
        for (int c = 1; c < labels.size(); c++) {
          if (first.floats()[row * labels.size() + c]
              > first.floats()[row * labels.size() + best]) {
            best = c;
          }
        }
        ObjectNode prediction = predictions.addObject();
        prediction.put("label", labels.get(best));
        prediction.put("index", best);
        prediction.put("score", first.floats()[row * labels.size() + best]);
      }
    }
    if (tensors.size() > 1) {
      ArrayNode more = answer.putArray("more_outputs");
      for (Tensor tensor : tensors.subList(1, tensors.size())) {
        ObjectNode entry = more.addObject();
        entry.set("outputs", TensorCodec.toJson(tensor));
        ArrayNode dims = entry.putArray("shape");
        Arrays.stream(tensor.shape()).forEach(dims::add);
        entry.put("dtype", tensor.dtype());
      }
    }
  }

  /** The output tensors as the request sent its inputs: without the batch dimension if it did. */
  private static List<Tensor> answerTensors(Item item) {
    if (!item.unbatched()) {
      return item.tensors();
    }
    return item.tensors().stream()
        .map(t -> t.shape().length > 0 && t.shape()[0] == 1 ? t.withoutBatch() : t)
        .toList();
  }

  @Override
  public List<Item> parseV2(List<V2Tensor> inputs) {
    List<V2Tensor> ordered = inputs;
    List<V2Tensor.Spec> declared = signature.inputs();
    if (!declared.isEmpty() && declared.size() == inputs.size()) {
      Map<String, V2Tensor> byName = new HashMap<>();
      inputs.forEach(t -> byName.put(t.name(), t));
      if (declared.stream().allMatch(s -> byName.containsKey(s.name()))) {
        ordered = declared.stream().map(s -> byName.get(s.name())).toList();
      }
    }
    List<Tensor> tensors = new ArrayList<>(ordered.size());
    for (V2Tensor input : ordered) {
      String where = "input '" + input.name() + "'";
      tensors.add(
          TensorCodec.parseFlat(
              input.data(),
              input.shape(),
              TensorCodec.fromV2(input.datatype(), where),
              where + " data"));
    }
    return List.of(fit(tensors, "input '" + ordered.get(0).name() + "'"));
  }

  @Override
  public List<V2Tensor> renderV2(List<Item> outputs) {
    List<V2Tensor> tensors = new ArrayList<>();
    for (Item item : outputs) {
      List<Tensor> answer = answerTensors(item);
      for (int i = 0; i < answer.size(); i++) {
        Tensor t = answer.get(i);
        tensors.add(
            new V2Tensor(
                outputName(i), t.shape(), TensorCodec.toV2(t.dtype()), TensorCodec.toFlatJson(t)));
      }
    }
    return tensors;
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
  public Item warmupItem() {
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
