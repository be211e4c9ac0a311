package dev.modelcache.inference;

import java.util.Arrays;

/**
 * Where an element of a request's input sits ({@code inputs[0][2]}): the indices on the way down,
 * written out as text only for a message, so that a valid input costs no string per element.
 */
final class ElementPath {
  private final String name;
  private int[] at = new int[TensorCodec.MAX_RANK];
  private int depth;

  ElementPath(String name) {
    this.name = name;
  }

  /** One level down, at index 0. */
  void down() {
    if (depth == at.length) {
      at = Arrays.copyOf(at, depth * 2);
    }
    at[depth++] = 0;
  }

  /** The index at the current level. */
  void at(int index) {
    at[depth - 1] = index;
  }

  void up() {
    depth--;
  }

  @Override
  public String toString() {
    StringBuilder text = new StringBuilder(name);
    for (int i = 0; i < depth; i++) {
      text.append('[').append(at[i]).append(']');
    }
    return text.toString();
  }
}
