package dev.modelcache.inference;

import java.util.List;
import java.util.Objects;

/**
 * A {@link Task} whose items cannot all share one forward pass: the batcher puts only items with
 * equal keys into one batch. A task that does not implement it batches any items together.
 *
 * @param <I> one input item
 */
interface BatchKeyed<I> {

  /** Items share a forward pass only when their keys are equal ({@link Object#equals}). */
  Object batchKey(I item);

  /**
   * The key of a request's items under {@code task}: one object that no other key equals when they
   * cannot share a pass with each other; "" for a task that batches anything.
   */
  static <I> Object keyOf(Task<I, ?> task, List<I> items) {
    if (!(task instanceof BatchKeyed<?>)) {
      return "";
    }
    @SuppressWarnings("unchecked")
    BatchKeyed<I> keyed = (BatchKeyed<I>) task;
    Object key = keyed.batchKey(items.get(0));
    for (I item : items.subList(1, items.size())) {
      if (!Objects.equals(keyed.batchKey(item), key)) {
        return new Object(); // items that cannot share a pass with each other: never batched
      }
    }
    return key;
  }
}
