package dev.modelcache.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslateException;
import ai.djl.translate.TranslatorContext;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The {@code tensor} task's translator of a whole batch: the items' tensors concatenated along
 * dimension 0 into NDArrays, and the model's outputs split back along dimension 0 by each item's
 * row count (the rows of its first tensor). Conversion happens inside the predictor's own
 * NDManager, so no native memory outlives the call.
 */
final class TensorTranslator
    implements NoBatchifyTranslator<List<TensorTask.Item>, List<TensorTask.Item>> {
  private static final String ITEMS = "items";

  @Override
  public NDList processInput(TranslatorContext ctx, List<TensorTask.Item> items) {
    ctx.setAttachment(ITEMS, items);
    NDManager manager = ctx.getNDManager();
    List<Tensor> first = items.get(0).tensors();
    NDList list = new NDList(first.size());
    for (int i = 0; i < first.size(); i++) {
      if (items.size() == 1) {
        list.add(toNd(manager, first.get(i)));
      } else {
        List<Tensor> parts = new ArrayList<>(items.size());
        for (TensorTask.Item item : items) {
          parts.add(item.tensors().get(i));
        }
        list.add(toNd(manager, Tensor.concat(parts)));
      }
    }
    return list;
  }

  @Override
  public List<TensorTask.Item> processOutput(TranslatorContext ctx, NDList list)
      throws TranslateException {
    @SuppressWarnings("unchecked")
    List<TensorTask.Item> items = (List<TensorTask.Item>) ctx.getAttachment(ITEMS);
    return outputs(items, list);
  }

  /** The model's outputs {@code list} split back by the rows of each of {@code items}. */
  static List<TensorTask.Item> outputs(List<TensorTask.Item> items, NDList list)
      throws TranslateException {
    List<Tensor> outputs = new ArrayList<>(list.size());
    for (NDArray array : list) {
      outputs.add(fromNd(array));
    }
    if (items.size() == 1) {
      return List.of(new TensorTask.Item(outputs, items.get(0).unbatched()));
    }
    long total = 0;
    for (TensorTask.Item item : items) {
      total += item.tensors().get(0).shape()[0];
    }
    for (Tensor output : outputs) {
      if (output.shape().length == 0 || output.shape()[0] != total) {
        throw new TranslateException(
            "a batch of "
                + total
                + " rows gave an output of shape "
                + Arrays.toString(output.shape())
                + ": the model's outputs have no batch dimension 0");
      }
    }
    List<TensorTask.Item> split = new ArrayList<>(items.size());
    long from = 0;
    for (TensorTask.Item item : items) {
      long rows = item.tensors().get(0).shape()[0];
      List<Tensor> mine = new ArrayList<>(outputs.size());
      for (Tensor output : outputs) {
        mine.add(output.rows(from, rows));
      }
      split.add(new TensorTask.Item(mine, item.unbatched()));
      from += rows;
    }
    return split;
  }

  static NDArray toNd(NDManager manager, Tensor tensor) {
    Shape shape = new Shape(tensor.shape());
    switch (tensor.dtype()) {
      case "float32":
        {
          double[] floats = Objects.requireNonNull(tensor.floats(), "float32");
          float[] data = new float[floats.length];
          for (int i = 0; i < data.length; i++) {
            data[i] = (float) floats[i];
          }
          return manager.create(data, shape);
        }
      case "float64":
        return manager.create(Objects.requireNonNull(tensor.floats(), "float64"), shape);
      case "int32":
        {
          long[] ints = Objects.requireNonNull(tensor.ints(), "int32");
          int[] data = new int[ints.length];
          for (int i = 0; i < data.length; i++) {
            data[i] = Math.toIntExact(ints[i]);
          }
          return manager.create(data, shape);
        }
      case "int64":
        return manager.create(Objects.requireNonNull(tensor.ints(), "int64"), shape);
      case "bool":
        return manager.create(Objects.requireNonNull(tensor.bools(), "bool"), shape);
      default:
        throw new InvalidInputException("dtype " + tensor.dtype() + " is not supported");
    }
  }

  private static Tensor fromNd(NDArray array) {
    long[] shape = array.getShape().getShape();
    DataType type = array.getDataType();
    switch (type) {
      case FLOAT32:
        return Tensor.ofFloats("float32", shape, floats(array));
      case FLOAT16:
      case BFLOAT16:
        {
          NDArray floats = array.toType(DataType.FLOAT32, false);
          try {
            return Tensor.ofFloats("float32", shape, toDoubles(floats.toFloatArray()));
          } finally {
            closeCopy(floats, array);
          }
        }
      case FLOAT64:
        return Tensor.ofFloats("float64", shape, array.toDoubleArray());
      case INT8:
      case UINT8:
      case INT32:
        {
          NDArray ints = array.toType(DataType.INT32, false);
          try {
            return Tensor.ofInts("int32", shape, toLongs(ints.toIntArray()));
          } finally {
            closeCopy(ints, array);
          }
        }
      case INT64:
        return Tensor.ofInts("int64", shape, array.toLongArray());
      case BOOLEAN:
        return Tensor.ofBools(shape, array.toBooleanArray());
      default:
        throw new IllegalStateException(
            "model output of dtype " + type + " cannot be returned as JSON");
    }
  }

  /**
   * A float32 array's values as doubles, read straight from the bytes that {@link
   * NDArray#toFloatArray} reads (the same {@code toByteBuffer(true)}: for PyTorch, a view of the
   * tensor's memory, made contiguous and moved to the CPU first where needed), without its float
   * buffer view and float array.
   */
  private static double[] floats(NDArray array) {
    ByteBuffer bytes = array.toByteBuffer(true);
    int from = bytes.position();
    double[] out = new double[bytes.remaining() / Float.BYTES];
    for (int i = 0; i < out.length; i++) {
      out[i] = bytes.getFloat(from + i * Float.BYTES);
    }
    return out;
  }

  /** Closes a conversion's copy at once (a predictor's manager may live long). */
  private static void closeCopy(NDArray converted, NDArray array) {
    if (converted != array) {
      converted.close();
    }
  }

  private static double[] toDoubles(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }

  private static long[] toLongs(int[] values) {
    long[] out = new long[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }
}
