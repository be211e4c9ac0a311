package dev.modelcache.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns request tensors into NDArrays and the model's outputs back into plain Java arrays, inside
 * the predictor's own NDManager, so no native memory outlives the call.
 */
final class TensorTranslator implements NoBatchifyTranslator<List<Tensor>, List<Tensor>> {

  @Override
  public NDList processInput(TranslatorContext ctx, List<Tensor> inputs) {
    NDManager manager = ctx.getNDManager();
    NDList list = new NDList(inputs.size());
    for (Tensor tensor : inputs) {
      list.add(toNd(manager, tensor));
    }
    return list;
  }

  @Override
  public List<Tensor> processOutput(TranslatorContext ctx, NDList list) {
    List<Tensor> outputs = new ArrayList<>(list.size());
    for (NDArray array : list) {
      outputs.add(fromNd(array));
    }
    return outputs;
  }

  private static NDArray toNd(NDManager manager, Tensor tensor) {
    Shape shape = new Shape(tensor.shape());
    switch (tensor.dtype()) {
      case "float32":
        {
          float[] data = new float[tensor.floats().length];
          for (int i = 0; i < data.length; i++) {
            data[i] = (float) tensor.floats()[i];
          }
          return manager.create(data, shape);
        }
      case "float64":
        return manager.create(tensor.floats(), shape);
      case "int32":
        {
          int[] data = new int[tensor.ints().length];
          for (int i = 0; i < data.length; i++) {
            data[i] = Math.toIntExact(tensor.ints()[i]);
          }
          return manager.create(data, shape);
        }
      case "int64":
        return manager.create(tensor.ints(), shape);
      case "bool":
        return manager.create(tensor.bools(), shape);
      default:
        throw new InvalidInputException("dtype " + tensor.dtype() + " is not supported");
    }
  }

  private static Tensor fromNd(NDArray array) {
    long[] shape = array.getShape().getShape();
    DataType type = array.getDataType();
    switch (type) {
      case FLOAT16:
      case FLOAT32:
      case BFLOAT16:
        return Tensor.ofFloats(
            "float32", shape, toDoubles(array.toType(DataType.FLOAT32, false).toFloatArray()));
      case FLOAT64:
        return Tensor.ofFloats("float64", shape, array.toDoubleArray());
      case INT8:
      case UINT8:
      case INT32:
        return Tensor.ofInts(
            "int32", shape, toLongs(array.toType(DataType.INT32, false).toIntArray()));
      case INT64:
        return Tensor.ofInts("int64", shape, array.toLongArray());
      case BOOLEAN:
        return Tensor.ofBools(shape, array.toBooleanArray());
      default:
        throw new IllegalStateException(
            "model output of dtype " + type + " cannot be returned as JSON");
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
