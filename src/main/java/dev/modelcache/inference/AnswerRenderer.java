package dev.modelcache.inference;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A {@link Task} that writes more than {@code outputs} into a {@code POST /inference} answer (the
 * {@code tensor} task's {@code shape}, {@code dtype} and {@code predictions}). Other tasks answer
 * {@code {"model", "revision", "outputs": render(...)}}.
 *
 * @param <O> one output item
 */
interface AnswerRenderer<O> {

  /** Adds the answer's fields after {@code model} and {@code revision}. */
  void renderAnswer(List<O> outputs, ObjectNode answer);
}
