package dev.modelcache.inference;

import java.util.List;

/**
 * A task that embeds texts: it turns them into its items, counting their tokens, and its outputs
 * are their vectors ({@code float[]}). What the OpenAI-compatible {@code /v1/embeddings} route runs
 * ({@link ModelRegistry#embed}).
 *
 * <pre>{@code
 * if (task instanceof Embedder embedder) {
 *   Embedder.Encoded encoded = embedder.encode(List.of("a text"));
 * }
 * }</pre>
 */
public interface Embedder {

  /**
   * Texts as this task's items, with the tokens they hold (special tokens included, after
   * truncation to {@code max_length}): what the OpenAI-compatible route reports as {@code usage}.
   */
  Encoded encode(List<String> texts);

  /** Items of the task (to run as they are) and the tokens they hold in all. */
  record Encoded(List<?> items, int tokens) {}
}
