package dev.modelcache.inference;

/**
 * A {@link Task} whose items cannot all share one forward pass: the batcher puts only items with
 * equal keys into one batch. A task that does not implement it batches any items together.
 *
 * @param <I> one input item
 */
interface BatchKeyed<I> {

  /** Items share a forward pass only when their keys are equal ({@link Object#equals}). */
  Object batchKey(I item);
}
