package dev.modelcache.inference;

import ai.djl.Model;
import ai.djl.engine.EngineException;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.TranslateException;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code tensor} task's predictor of a PyTorch model on the CPU: one forward pass of the
 * model's block, without what DJL's {@link Predictor} makes for every call (an {@link NDManager}
 * with a random UUID and two maps, a translator context, a direct buffer and a native tensor per
 * input). Its arrays live in the predictor's own manager for the predictor's life; a pass closes
 * what it made before it returns, and the input tensors of up to {@link InputSlots#MAX_BYTES} are
 * kept: the next pass of the same shape and dtype writes its values into the same native memory.
 * Like any predictor, it runs one pass at a time ({@link PredictorPool}).
 *
 * <p>Answers, errors and batching are those of {@link TensorTranslator} under DJL's predictor: the
 * same input conversion, the same output conversion and split, {@link InvalidInputException} and
 * engine errors as a {@link TranslateException}.
 */
final class TensorPredictor extends Predictor<List<TensorTask.Item>, List<TensorTask.Item>> {
  /** A pass every so often looks for arrays that a pass left behind (none expected). */
  static final int SWEEP_EVERY = 64;

  private final InputSlots slots;
  private int passes;

  /**
   * @param reuseInputs whether input tensors may be kept from pass to pass: only where the engine's
   *     array shares the direct buffer it was made from (PyTorch on the CPU)
   */
  TensorPredictor(Model model, boolean reuseInputs) {
    super(model, new TensorTranslator(), model.getNDManager().getDevice(), false);
    // the predictor's own manager (DJL's makes one per predictor) holds every array of a pass
    this.slots = new InputSlots(manager, reuseInputs);
  }

  @Override
  public List<TensorTask.Item> predict(List<TensorTask.Item> items) throws TranslateException {
    NDList inputs = new NDList(items.get(0).tensors().size());
    NDList outputs = null;
    try {
      List<Tensor> first = items.get(0).tensors();
      for (int i = 0; i < first.size(); i++) {
        inputs.add(slots.array(i, items.size() == 1 ? first.get(i) : concat(items, i)));
      }
      outputs = block.forward(parameterStore, inputs, false);
      return TensorTranslator.outputs(items, outputs);
    } catch (EngineException e) {
      throw new TranslateException(e);
    } finally {
      if (outputs != null) {
        outputs.forEach(NDArray::close);
      }
      for (NDArray input : inputs) {
        if (!slots.kept(input)) {
          input.close();
        }
      }
      if (++passes % SWEEP_EVERY == 0) {
        sweep();
      }
    }
  }

  @Override
  public List<List<TensorTask.Item>> batchPredict(List<List<TensorTask.Item>> inputs)
      throws TranslateException {
    List<List<TensorTask.Item>> all = new ArrayList<>(inputs.size());
    for (List<TensorTask.Item> items : inputs) {
      all.add(predict(items));
    }
    return all;
  }

  private static Tensor concat(List<TensorTask.Item> items, int input) {
    List<Tensor> parts = new ArrayList<>(items.size());
    for (TensorTask.Item item : items) {
      parts.add(item.tensors().get(input));
    }
    return Tensor.concat(parts);
  }

  /** Closes what the manager holds beyond the kept inputs (arrays a conversion made, say). */
  private void sweep() {
    for (NDArray array : manager.getManagedArrays()) {
      if (!slots.kept(array)) {
        array.close();
      }
    }
  }

  /** The arrays this predictor holds now: its kept inputs, and nothing else between passes. */
  int arrays() {
    return manager.getManagedArrays().size();
  }
}
