package dev.modelcache.inference;

import ai.djl.Model;
import ai.djl.engine.EngineException;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
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
 * The module's {@code forward} is called with TorchScript values ({@code IValue}) directly: a kept
 * input's value is made once with it, not for every call as DJL's block does. Like any predictor,
 * it runs one pass at a time ({@link PredictorPool}).
 *
 * <p>Answers, errors and batching are those of {@link TensorTranslator} under DJL's predictor: the
 * same input conversion, the same output conversion and split, {@link InvalidInputException} and
 * engine errors as a {@link TranslateException}.
 */
final class TensorPredictor extends Predictor<List<TensorTask.Item>, List<TensorTask.Item>> {
  /** A pass every so often looks for arrays that a pass left behind (none expected). */
  static final int SWEEP_EVERY = 64;

  private final InputSlots slots;
  private final PtSymbolBlock module;
  private final PtNDManager ptManager;
  private int passes;

  /**
   * @param reuseInputs whether input tensors may be kept from pass to pass: only where the engine's
   *     array shares the direct buffer it was made from (PyTorch on the CPU)
   */
  TensorPredictor(Model model, boolean reuseInputs) {
    super(model, new TensorTranslator(), model.getNDManager().getDevice(), false);
    // the predictor's own manager (DJL's makes one per predictor) holds every array of a pass
    this.slots = new InputSlots(manager, reuseInputs);
    this.module = (PtSymbolBlock) model.getBlock();
    this.ptManager = (PtNDManager) manager;
  }

  @Override
  public List<TensorTask.Item> predict(List<TensorTask.Item> items) throws TranslateException {
    List<Tensor> first = items.get(0).tensors();
    NDList inputs = new NDList(first.size());
    IValue[] values = new IValue[first.size()];
    NDList outputs = null;
    try {
      for (int i = 0; i < first.size(); i++) {
        NDArray input = slots.array(i, items.size() == 1 ? first.get(i) : concat(items, i));
        inputs.add(input);
        IValue kept = slots.value(input);
        values[i] = kept != null ? kept : IValue.from((PtNDArray) input);
      }
      outputs = forward(values);
      return TensorTranslator.outputs(items, outputs);
    } catch (EngineException e) {
      throw new TranslateException(e);
    } finally {
      if (outputs != null) {
        outputs.forEach(NDArray::close);
      }
      for (int i = 0; i < inputs.size(); i++) {
        NDArray input = inputs.get(i);
        if (!slots.kept(input)) {
          if (values[i] != null) {
            values[i].close();
          }
          input.close();
        }
      }
      if (++passes % SWEEP_EVERY == 0) {
        sweep();
      }
    }
  }

  /**
   * The module's {@code forward} on {@code values}, its result as arrays of this predictor's
   * manager: what DJL's {@code PtSymbolBlock.forward(ParameterStore, NDList, boolean)} does for
   * arrays without names (an {@link IValue} per array, the {@code forward} method, not training),
   * less the values it makes and closes for each call.
   */
  private NDList forward(IValue[] values) {
    try (IValue result = module.forward(values)) {
      return result.toNDList(ptManager);
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

  @Override
  public void close() {
    slots.close();
    super.close();
  }

  /** The arrays this predictor holds now: its kept inputs, and nothing else between passes. */
  int arrays() {
    return manager.getManagedArrays().size();
  }
}
