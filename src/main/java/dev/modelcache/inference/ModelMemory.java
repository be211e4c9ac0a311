package dev.modelcache.inference;

/**
 * The memory one loaded model takes, as measured across its load and warm-up ({@link LoadMeter}).
 *
 * @param nativeBytes what the process's resident set grew by, less what the JVM committed meanwhile
 *     (heap, metaspace, code cache): the engine's weights and buffers, its allocator's arenas, the
 *     workers' native state (0 where {@code /proc/self/status} cannot be read)
 * @param heapBytes what the Java heap in use grew by: the task, tokenizer and predictors, and the
 *     garbage the load made that no collection has taken yet (none is forced): an upper bound
 * @param fileBytes the size of the model file: a lower bound of the weights in memory, and what a
 *     load is checked against before it starts
 * @param method how the figures were taken: {@code rss-delta-at-load}, or {@code
 *     heap-delta-at-load} where the resident set cannot be read
 * @param overlapped true when another model loaded during the measurement (after waiting {@link
 *     LoadMeter#QUEUE_WAIT_SECONDS} s for it), so that the figures may hold part of its memory
 */
public record ModelMemory(
    long nativeBytes, long heapBytes, long fileBytes, String method, boolean overlapped) {

  /**
   * Native and heap, never less than the model file: what {@code server.max_model_memory} and the
   * metric count. The deltas can read 0 for a model that surely takes memory (the allocator reused
   * what an earlier model freed, a collection ran during the load), so the file's size, which the
   * weights take at least, is the floor.
   */
  public long totalBytes() {
    return Math.max(nativeBytes + heapBytes, fileBytes);
  }
}
