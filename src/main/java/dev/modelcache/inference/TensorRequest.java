package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The input tensors of one {@code tensor} request, read from its JSON ({@code POST /inference}) or
 * Open Inference Protocol form, and checked against the inputs the model declares ({@link
 * TensorSignature}); an input sent without the batch dimension gets it.
 *
 * <pre>{@code
 * TensorTask.Item item = new TensorRequest("iris", signature).parse(request.get("inputs"));
 * }</pre>
 */
final class TensorRequest {
  private static final Set<String> TYPED_FIELDS = Set.of("name", "data", "dtype", "shape");

  private final String model;
  private final TensorSignature signature;

  TensorRequest(String model, TensorSignature signature) {
    this.model = model;
    this.signature = signature;
  }

  /** The item of a {@code POST /inference} request's {@code inputs}. */
  TensorTask.Item parse(JsonNode inputs) {
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
    return fit(tensors, "inputs");
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
    return TensorCodec.parseFlat(
        data, V2Tensor.shapeOf(shape, path + ".shape"), dtype, path + ".data");
  }

  private static JsonNode firstLeaf(JsonNode node) {
    JsonNode leaf = node;
    while (leaf.isArray() && !leaf.isEmpty()) {
      leaf = leaf.get(0);
    }
    return leaf;
  }

  @Nullable String declaredDtype(int index) {
    List<V2Tensor.Spec> inputs = signature.inputs();
    return index < inputs.size()
        ? TensorCodec.fromV2(inputs.get(index).datatype(), inputs.get(index).name())
        : null;
  }

  /**
   * Checks the tensors against the declared inputs; adds the batch dimension when the request left
   * it out.
   */
  TensorTask.Item fit(List<Tensor> tensors, String what) {
    List<V2Tensor.Spec> declared = signature.inputs();
    if (declared.isEmpty()) {
      return new TensorTask.Item(List.copyOf(tensors), false);
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
      boolean one = isOne(tensor, spec, label);
      long[] shape = tensor.shape();
      if (unbatched != null && unbatched != one) {
        throw new InvalidInputException(
            "the inputs of model "
                + model
                + " must all have the batch dimension or none; input '"
                + spec.name()
                + "' differs from the first");
      }
      unbatched = one;
      if (!one) {
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
      return new TensorTask.Item(tensors.stream().map(Tensor::withBatchOfOne).toList(), true);
    }
    return new TensorTask.Item(List.copyOf(tensors), false);
  }

  /**
   * Checks one tensor against its declared input: the dtype, and the shape with or without the
   * batch dimension.
   *
   * @return true when it came without the batch dimension (one input), false with it (a batch)
   */
  private boolean isOne(Tensor tensor, V2Tensor.Spec spec, String label) {
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
    return one;
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

  /** The item of an Open Inference Protocol request's inputs, in the declared order if named. */
  TensorTask.Item parseV2(List<V2Tensor> inputs) {
    List<V2Tensor> ordered = declaredOrder(inputs, V2Tensor::name);
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
    return fit(tensors, "input '" + ordered.get(0).name() + "'");
  }

  /** The item of the inputs {@link V2Stream} read, ordered and checked as {@link #parseV2} does. */
  TensorTask.Item fitV2(List<V2Stream.Input> inputs) {
    List<V2Stream.Input> ordered = declaredOrder(inputs, V2Stream.Input::name);
    List<Tensor> tensors = new ArrayList<>(ordered.size());
    for (V2Stream.Input input : ordered) {
      tensors.add(input.tensor());
    }
    return fit(tensors, "input '" + ordered.get(0).name() + "'");
  }

  /** The inputs in the declared order when they are the declared ones by name, else as sent. */
  private <T> List<T> declaredOrder(List<T> inputs, Function<T, String> name) {
    List<V2Tensor.Spec> declared = signature.inputs();
    if (inputs.size() > 1 && declared.size() == inputs.size()) {
      Map<String, T> byName = new HashMap<>();
      inputs.forEach(t -> byName.put(name.apply(t), t));
      if (declared.stream().allMatch(s -> byName.containsKey(s.name()))) {
        return declared.stream().map(s -> byName.get(s.name())).toList();
      }
    }
    return inputs;
  }
}
