package dev.modelcache.inference;

import java.util.List;

/**
 * A task that also takes one item as the whole raw request body (an image posted with {@code
 * Content-Type: image/png}), beside its JSON form.
 *
 * <pre>{@code
 * if (task instanceof RawBodyTask<?> raw && raw.acceptsRaw(ctx.contentType())) {
 *   items = raw.parseRaw(ctx.bodyAsBytes());
 * }
 * }</pre>
 *
 * @param <I> the task's item
 */
public interface RawBodyTask<I> {

  /** Whether a body of this content type (parameters such as {@code ;charset} allowed) is raw. */
  boolean acceptsRaw(String contentType);

  /** The body as one item; bad bytes throw {@link InvalidInputException}. */
  List<I> parseRaw(byte[] body);
}
