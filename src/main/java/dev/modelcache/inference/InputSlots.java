package dev.modelcache.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The input tensors of a {@link TensorPredictor}, one slot per model input: a small tensor's values
 * are written into the direct buffer that a kept native array was made from (PyTorch's array on the
 * CPU is a view of that buffer), so a pass of the same shape and dtype as the last one allocates
 * neither a buffer nor a native tensor. A tensor of another shape or dtype replaces the slot's
 * array; a larger one (or any, where reuse is off) gets an array of its own, which the pass closes.
 * Each slot also keeps the TorchScript value ({@link IValue}) of its array, which the module's
 * method is called with, so a pass makes no {@code IValue} for a kept input either.
 */
final class InputSlots {
  /** The largest input kept from pass to pass, per input: a few rows of a small model. */
  static final int MAX_BYTES = 64 * 1024;

  private final NDManager manager;
  private final boolean reuse;
  private final List<@Nullable Slot> slots = new ArrayList<>();

  private static final class Slot {
    final String dtype;
    final long[] shape;
    final ByteBuffer buffer;
    final NDArray array;
    final IValue value;

    Slot(String dtype, long[] shape, ByteBuffer buffer, NDArray array) {
      this.dtype = dtype;
      this.shape = shape;
      this.buffer = buffer;
      this.array = array;
      this.value = IValue.from((PtNDArray) array);
    }

    void close() {
      value.close();
      array.close();
    }
  }

  InputSlots(NDManager manager, boolean reuse) {
    this.manager = manager;
    this.reuse = reuse;
  }

  /** The array of input {@code index} holding {@code tensor}'s values. */
  NDArray array(int index, Tensor tensor) {
    int bytes = Math.multiplyExact(tensor.size(), width(tensor.dtype()));
    if (!reuse || bytes > MAX_BYTES) {
      return TensorTranslator.toNd(manager, tensor);
    }
    while (slots.size() <= index) {
      slots.add(null);
    }
    Slot slot = slots.get(index);
    if (slot == null
        || !slot.dtype.equals(tensor.dtype())
        || !Arrays.equals(slot.shape, tensor.shape())) {
      if (slot != null) {
        slots.set(index, null);
        slot.close();
      }
      ByteBuffer buffer =
          ByteBuffer.allocateDirect(Math.max(bytes, 1)).order(ByteOrder.nativeOrder());
      fill(buffer, tensor);
      NDArray array = manager.create(buffer, new Shape(tensor.shape()), dataType(tensor.dtype()));
      slot = new Slot(tensor.dtype(), tensor.shape().clone(), buffer, array);
      slots.set(index, slot);
      return array;
    }
    fill(slot.buffer, tensor);
    return slot.array;
  }

  /** Whether {@code array} is a slot's, kept for the next pass. */
  boolean kept(NDArray array) {
    return value(array) != null;
  }

  /**
   * The TorchScript value of {@code array} if it is a slot's: made once with the slot and kept as
   * long as it (it refers to the same native tensor, so it sees the values of each pass).
   */
  @Nullable IValue value(NDArray array) {
    for (Slot slot : slots) {
      if (slot != null && slot.array == array) {
        return slot.value;
      }
    }
    return null;
  }

  /** Closes the kept arrays and their values (the predictor's close). */
  void close() {
    for (int i = 0; i < slots.size(); i++) {
      Slot slot = slots.get(i);
      if (slot != null) {
        slots.set(i, null);
        slot.close();
      }
    }
  }

  /** Writes the values as the dtype's native bytes, checked as {@link TensorTranslator} does. */
  private static void fill(ByteBuffer buffer, Tensor tensor) {
    switch (tensor.dtype()) {
      case "float32" -> {
        double[] floats = Objects.requireNonNull(tensor.floats(), "float32");
        for (int i = 0; i < floats.length; i++) {
          buffer.putFloat(i * 4, (float) floats[i]);
        }
      }
      case "float64" -> {
        double[] floats = Objects.requireNonNull(tensor.floats(), "float64");
        for (int i = 0; i < floats.length; i++) {
          buffer.putDouble(i * 8, floats[i]);
        }
      }
      case "int32" -> {
        long[] ints = Objects.requireNonNull(tensor.ints(), "int32");
        for (int i = 0; i < ints.length; i++) {
          buffer.putInt(i * 4, Math.toIntExact(ints[i]));
        }
      }
      case "int64" -> {
        long[] ints = Objects.requireNonNull(tensor.ints(), "int64");
        for (int i = 0; i < ints.length; i++) {
          buffer.putLong(i * 8, ints[i]);
        }
      }
      case "bool" -> {
        boolean[] bools = Objects.requireNonNull(tensor.bools(), "bool");
        for (int i = 0; i < bools.length; i++) {
          buffer.put(i, bools[i] ? (byte) 1 : (byte) 0);
        }
      }
      default -> throw new InvalidInputException("dtype " + tensor.dtype() + " is not supported");
    }
  }

  private static int width(String dtype) {
    return switch (dtype) {
      case "float64", "int64" -> 8;
      case "bool" -> 1;
      default -> 4;
    };
  }

  private static DataType dataType(String dtype) {
    return switch (dtype) {
      case "float32" -> DataType.FLOAT32;
      case "float64" -> DataType.FLOAT64;
      case "int32" -> DataType.INT32;
      case "int64" -> DataType.INT64;
      case "bool" -> DataType.BOOLEAN;
      default -> throw new InvalidInputException("dtype " + dtype + " is not supported");
    };
  }
}
