package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.Translator;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What one task ({@code tensor}, {@code text-embedding}, {@code text-classification}, {@code
 * image-classification}) makes of requests.
 *
 * <p>An item is the unit of dynamic batching: one request carries one or more items; the batcher
 * gathers the items of concurrent requests of one model into one list, runs it through one {@link
 * ai.djl.inference.Predictor#predict} call of {@link #translator()} (one forward pass), and hands
 * each request its own outputs back, in order. The translator therefore takes and returns whole
 * lists, and knows how to stack or pad its items; it sets no DJL batchifier.
 *
 * <p>Bad input throws {@link InvalidInputException} with a message that names the bad element and
 * says what is expected; it becomes a 400.
 *
 * @param <I> one input item
 * @param <O> one output item
 */
public interface Task<I, O> {

  /** The task's name as written in the config ({@code tensor}, {@code text-embedding}, ...). */
  String name();

  /** The DJL translator of a whole batch of items: list in, list of the same length out. */
  Translator<List<I>, List<O>> translator();

  /**
   * A predictor of {@link #translator()} on {@code model} for one worker: DJL's own unless the task
   * has a leaner one for the model's engine and {@code device}.
   */
  default Predictor<List<I>, List<O>> newPredictor(
      ZooModel<List<I>, List<O>> model, Device device) {
    return model.newPredictor();
  }

  /** {@code POST /inference}: the request's {@code inputs} node as items. */
  List<I> parse(JsonNode inputs);

  /** {@code POST /inference}: the items' outputs as the response's {@code outputs} node. */
  JsonNode render(List<O> outputs);

  /**
   * Open Inference Protocol v2: the request's input tensors as items. The data of each tensor
   * arrives flattened (row-major) whatever nesting the client sent.
   */
  List<I> parseV2(List<V2Tensor> inputs);

  /** Open Inference Protocol v2: the items' outputs as response tensors (data flat). */
  List<V2Tensor> renderV2(List<O> outputs);

  /** Open Inference Protocol v2 model metadata: the inputs the task expects. */
  List<V2Tensor.Spec> inputSpecs();

  /** Open Inference Protocol v2 model metadata: the outputs the task produces. */
  List<V2Tensor.Spec> outputSpecs();

  /** One item for the warm-up inference right after load. */
  @Nullable I warmupItem();

  /**
   * A few distinct items for the batch check at load ({@link BatchCheck}): run alone and run
   * together, they must give the same outputs, or the model's requests are never batched. Empty
   * when the task cannot make such items (a {@code tensor} model that declares no inputs).
   */
  default List<I> probeItems() {
    return List.of();
  }
}
