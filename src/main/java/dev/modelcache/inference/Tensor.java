package dev.modelcache.inference;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A dense tensor in row-major order, as it crosses the JSON boundary. Exactly one of the arrays is
 * set, by dtype.
 *
 * @param dtype {@code float32}, {@code float64}, {@code int32}, {@code int64} or "bool"
 */
record Tensor(
    String dtype,
    long[] shape,
    double @Nullable [] floats,
    long @Nullable [] ints,
    boolean @Nullable [] bools) {

  static Tensor ofFloats(String dtype, long[] shape, double[] values) {
    return new Tensor(dtype, shape, values, null, null);
  }

  static Tensor ofInts(String dtype, long[] shape, long[] values) {
    return new Tensor(dtype, shape, null, values, null);
  }

  static Tensor ofBools(long[] shape, boolean[] values) {
    return new Tensor("bool", shape, null, null, values);
  }

  int size() {
    return floats != null
        ? floats.length
        : ints != null ? ints.length : Objects.requireNonNull(bools, "a bool tensor").length;
  }

  /** The same values with {@code shape}. */
  Tensor reshaped(long[] newShape) {
    return new Tensor(dtype, newShape, floats, ints, bools);
  }

  /** {@code rest} with {@code first} in front. */
  static long[] prepend(long first, long[] rest) {
    long[] shape = new long[rest.length + 1];
    shape[0] = first;
    System.arraycopy(rest, 0, shape, 1, rest.length);
    return shape;
  }

  /** The same values with a batch dimension of 1 in front. */
  Tensor withBatchOfOne() {
    return reshaped(prepend(1, shape));
  }

  /** The same values without the first dimension (which must be 1). */
  Tensor withoutBatch() {
    return reshaped(Arrays.copyOfRange(shape, 1, shape.length));
  }

  /** The dimensions after the first: what tensors concatenated along dimension 0 must share. */
  List<Long> rowShape() {
    Long[] row = new Long[shape.length - 1]; // no stream: this is every request's batch key
    for (int i = 1; i < shape.length; i++) {
      row[i - 1] = shape[i];
    }
    return List.of(row);
  }

  /**
   * Tensors of one dtype and one row shape, concatenated along dimension 0 (the batch dimension).
   */
  static Tensor concat(List<Tensor> parts) {
    Tensor first = parts.get(0);
    long rows = 0;
    int size = 0;
    for (Tensor part : parts) {
      rows += part.shape[0];
      size += part.size();
    }
    long[] shape = first.shape.clone();
    shape[0] = rows;
    int at = 0;
    if (first.floats != null) {
      double[] all = new double[size];
      for (Tensor part : parts) {
        System.arraycopy(part.floats, 0, all, at, part.size());
        at += part.size();
      }
      return ofFloats(first.dtype, shape, all);
    }
    if (first.ints != null) {
      long[] all = new long[size];
      for (Tensor part : parts) {
        System.arraycopy(part.ints, 0, all, at, part.size());
        at += part.size();
      }
      return ofInts(first.dtype, shape, all);
    }
    boolean[] all = new boolean[size];
    for (Tensor part : parts) {
      System.arraycopy(part.bools, 0, all, at, part.size());
      at += part.size();
    }
    return ofBools(shape, all);
  }

  /** Rows {@code [from, from + count)} along dimension 0. */
  Tensor rows(long from, long count) {
    long[] s = shape.clone();
    s[0] = count;
    int rowSize = shape[0] == 0 ? 0 : size() / (int) shape[0];
    int start = Math.toIntExact(from * rowSize);
    int end = Math.toIntExact((from + count) * rowSize);
    if (floats != null) {
      return ofFloats(dtype, s, Arrays.copyOfRange(floats, start, end));
    }
    if (ints != null) {
      return ofInts(dtype, s, Arrays.copyOfRange(ints, start, end));
    }
    return ofBools(s, Arrays.copyOfRange(bools, start, end));
  }

  @Override
  public String toString() {
    return dtype + Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Tensor t
        && dtype.equals(t.dtype)
        && Arrays.equals(shape, t.shape)
        && Arrays.equals(floats, t.floats)
        && Arrays.equals(ints, t.ints)
        && Arrays.equals(bools, t.bools);
  }

  @Override
  public int hashCode() {
    return 31 * dtype.hashCode() + Arrays.hashCode(shape);
  }
}
