package dev.modelcache.inference;

import java.util.Arrays;

/**
 * A dense tensor in row-major order, as it crosses the JSON boundary. Exactly one of the arrays is
 * set, by dtype.
 *
 * @param dtype {@code float32}, {@code float64}, {@code int32}, {@code int64} or {@code bool}
 */
record Tensor(String dtype, long[] shape, double[] floats, long[] ints, boolean[] bools) {

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
    return floats != null ? floats.length : ints != null ? ints.length : bools.length;
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
