package dev.modelcache.inference;

import ai.djl.inference.Predictor;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Whether batching may change a model's answers, decided once at load: dynamic batching promises
 * that each request gets the outputs it would get alone, which a model whose pass depends on the
 * whole batch breaks. Dynamically quantised (int8) ONNX models are the common case: {@code
 * DynamicQuantizeLinear} computes one scale over every item of the pass. Such a model is found by
 * its graph, and any model by a probe: the task's {@link Task#probeItems()} run alone and together
 * must give the same outputs within float tolerance.
 *
 * <pre>{@code
 * String reason = BatchCheck.reason(task, predictor, modelFile, engine); // null: batching is safe
 * }</pre>
 */
final class BatchCheck {
  /** The ONNX operator whose scale depends on the whole batch. */
  static final String DYNAMIC_QUANTIZE = "DynamicQuantizeLinear";

  /** Absolute and relative tolerance of float noise (padding, summation order). */
  private static final double ABSOLUTE = 1e-4;

  private static final double RELATIVE = 1e-3;

  private BatchCheck() {}

  /**
   * Why batching would change this model's answers, or null when it would not (or cannot be told:
   * no probe items and nothing in the graph).
   *
   * @param modelFile the file loaded (an {@code .onnx} graph is searched for {@link
   *     #DYNAMIC_QUANTIZE})
   */
  static <I, O> @Nullable String reason(
      Task<I, O> task, Predictor<List<I>, List<O>> predictor, Path modelFile, String engine)
      throws IOException {
    if (Engine.ONNX_RUNTIME.djlName().equals(engine) && contains(modelFile, DYNAMIC_QUANTIZE)) {
      return "its ONNX graph quantises activations at run time ("
          + DYNAMIC_QUANTIZE
          + "), with one scale for every item of a pass";
    }
    List<I> probe = task.probeItems();
    if (probe.size() < 2) {
      return null;
    }
    List<O> together;
    List<O> alone = new ArrayList<>();
    try {
      for (I item : probe) {
        alone.add(predictor.predict(List.of(item)).get(0));
      }
    } catch (Exception e) {
      return null; // the warm-up passed, so the task's probe items do not suit this model
    }
    try {
      together = predictor.predict(probe);
    } catch (Exception e) {
      return probe.size()
          + " items run together fail where each alone runs ("
          + ModelRegistry.firstLine(e)
          + ")";
    }
    double worst = 0;
    for (int i = 0; i < probe.size(); i++) {
      double difference =
          difference(task.render(List.of(alone.get(i))), task.render(List.of(together.get(i))));
      worst = Math.max(worst, difference);
    }
    if (worst > 0) {
      return String.format(
          Locale.ROOT,
          "%d items run together answer differently from each run alone (by up to %.3g, beyond"
              + " float tolerance)",
          probe.size(),
          worst);
    }
    return null;
  }

  /**
   * How far two rendered answers are apart beyond float tolerance: 0 when every number agrees
   * within it and everything else is equal, else the largest difference of numbers (infinity for a
   * difference of structure or text).
   */
  static double difference(JsonNode a, JsonNode b) {
    if (a.isNumber() && b.isNumber()) {
      double x = a.asDouble();
      double y = b.asDouble();
      double d = Math.abs(x - y);
      return d <= ABSOLUTE + RELATIVE * Math.max(Math.abs(x), Math.abs(y)) ? 0 : d;
    }
    if (a.isContainerNode() && b.isContainerNode() && a.size() == b.size()) {
      double worst = 0;
      if (a.isArray() && b.isArray()) {
        for (int i = 0; i < a.size(); i++) {
          worst = Math.max(worst, difference(a.get(i), b.get(i)));
        }
        return worst;
      }
      if (a.isObject() && b.isObject()) {
        for (Iterator<String> names = a.fieldNames(); names.hasNext(); ) {
          String name = names.next();
          JsonNode other = b.get(name);
          worst =
              Math.max(
                  worst, other == null ? Double.POSITIVE_INFINITY : difference(a.get(name), other));
        }
        return worst;
      }
    }
    return a.equals(b) ? 0 : Double.POSITIVE_INFINITY;
  }

  /** Whether {@code file} holds the ASCII bytes of {@code text} (read in blocks, not whole). */
  static boolean contains(Path file, String text) throws IOException {
    byte[] pattern = text.getBytes(StandardCharsets.US_ASCII);
    byte[] buffer = new byte[1 << 20];
    int kept = 0; // bytes carried over from the previous block, so that no match is split
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buffer, kept, buffer.length - kept)) > 0; ) {
        int end = kept + n;
        for (int i = 0; i + pattern.length <= end; i++) {
          if (matches(buffer, i, pattern)) {
            return true;
          }
        }
        kept = Math.min(pattern.length - 1, end);
        System.arraycopy(buffer, end - kept, buffer, 0, kept);
      }
    }
    return false;
  }

  private static boolean matches(byte[] buffer, int at, byte[] pattern) {
    for (int j = 0; j < pattern.length; j++) {
      if (buffer[at + j] != pattern[j]) {
        return false;
      }
    }
    return true;
  }
}
