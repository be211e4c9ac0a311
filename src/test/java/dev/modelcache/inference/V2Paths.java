package dev.modelcache.inference;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The task side of both paths of a {@code tensor} model's Open Inference Protocol JSON request, for
 * tests outside this package: the streamed one ({@link V2Stream}, {@link V2TensorAnswer}) and the
 * tree's ({@link TensorTask#parseV2}, {@link TensorTask#renderV2}). Items and tensors are opaque
 * values here that compare with {@code equals}.
 */
public final class V2Paths {
  private final String model;
  private final TensorTask task;

  /** A tensor model that declares {@code inputs} and {@code outputs} (either may be empty). */
  public V2Paths(String model, List<V2Tensor.Spec> inputs, List<V2Tensor.Spec> outputs) {
    this.model = model;
    this.task = new TensorTask(model, List.of(), new TensorSignature(inputs, outputs));
  }

  /** What the fast path read of a body: its id, the outputs asked for, its inputs (opaque). */
  public record Read(@Nullable String id, List<String> outputs, Object inputs) {}

  /** The fast path's reading of {@code body}; null when it leaves it to the tree. */
  public @Nullable Read fast(String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    V2Stream.Request request = V2Stream.parse(bytes, bytes.length, model, model);
    return request == null ? null : new Read(request.id(), request.outputs(), request.inputs());
  }

  /** The item the fast path runs for what it read (checked against the declared inputs). */
  @SuppressWarnings("unchecked")
  public Object fitFast(Read read) {
    return task.fitV2((List<V2Stream.Input>) read.inputs());
  }

  /** The item the tree path runs for its request's tensors. */
  public Object fitTree(List<V2Tensor> inputs) {
    return task.parseV2(inputs).get(0);
  }

  /** An output item of the model: {@code tensors} made by {@link #tensor}. */
  public static Object item(boolean unbatched, List<Object> tensors) {
    List<Tensor> list = new ArrayList<>();
    tensors.forEach(t -> list.add((Tensor) t));
    return new TensorTask.Item(list, unbatched);
  }

  /** A tensor of {@code dtype}: the values as they are, cast to whole numbers, or non-zero. */
  public static Object tensor(String dtype, long[] shape, double[] values) {
    return switch (dtype) {
      case "float32", "float64" -> Tensor.ofFloats(dtype, shape, values);
      case "bool" -> {
        boolean[] bools = new boolean[values.length];
        for (int i = 0; i < values.length; i++) {
          bools[i] = values[i] != 0;
        }
        yield Tensor.ofBools(shape, bools);
      }
      default -> {
        long[] ints = new long[values.length];
        for (int i = 0; i < values.length; i++) {
          ints[i] = (long) values[i];
        }
        yield Tensor.ofInts(dtype, shape, ints);
      }
    };
  }

  /** A tensor of whole numbers as they are. */
  public static Object ints(String dtype, long[] shape, long[] values) {
    return Tensor.ofInts(dtype, shape, values);
  }

  /** The tree path's outputs of {@code items}. */
  @SuppressWarnings("unchecked")
  public List<V2Tensor> treeOutputs(List<Object> items) {
    return task.renderV2((List<TensorTask.Item>) (List<?>) items);
  }

  /** The fast path's answer of {@code items}, as the route writes it. */
  @SuppressWarnings("unchecked")
  public byte[] fastAnswer(
      ObjectMapper json,
      String revision,
      @Nullable String id,
      List<String> wanted,
      List<Object> items)
      throws Exception {
    V2TensorAnswer.Outputs outputs =
        task.outputsV2(revision, (List<TensorTask.Item>) (List<?>) items);
    return json.writeValueAsBytes(V2TensorAnswer.of(model, id, wanted, outputs));
  }
}
