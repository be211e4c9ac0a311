package dev.modelcache.inference;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonSerializable;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.jsontype.TypeSerializer;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A {@code tensor} model's {@code POST /inference} answer, written straight from the output arrays
 * by Jackson's generator when it is serialised: no tree, no boxed numbers. It writes the same
 * fields, in the same order and with the same number forms, as {@link TensorTask#renderAnswer}.
 */
final class TensorAnswer implements JsonSerializable {
  private final String model;
  private final String revision;
  private final List<Tensor> tensors;
  private final List<String> labels;
  private final int @Nullable [] best;

  /**
   * @param tensors the output tensors as the request gets them
   * @param best the best label's index of each row of the first tensor; null for no predictions
   */
  TensorAnswer(
      String model,
      String revision,
      List<Tensor> tensors,
      List<String> labels,
      int @Nullable [] best) {
    this.model = model;
    this.revision = revision;
    this.tensors = tensors;
    this.labels = labels;
    this.best = best;
  }

  @Override
  public void serialize(JsonGenerator gen, SerializerProvider provider) throws IOException {
    gen.writeStartObject();
    gen.writeStringField("model", model);
    gen.writeStringField("revision", revision);
    Tensor first = tensors.get(0);
    tensor(gen, first);
    if (best != null) {
      double[] scores = Objects.requireNonNull(first.floats(), "predictions need floats");
      gen.writeArrayFieldStart("predictions");
      for (int row = 0; row < best.length; row++) {
        gen.writeStartObject();
        gen.writeStringField("label", labels.get(best[row]));
        gen.writeNumberField("index", best[row]);
        gen.writeNumberField("score", scores[row * labels.size() + best[row]]);
        gen.writeEndObject();
      }
      gen.writeEndArray();
    }
    if (tensors.size() > 1) {
      gen.writeArrayFieldStart("more_outputs");
      for (Tensor tensor : tensors.subList(1, tensors.size())) {
        gen.writeStartObject();
        tensor(gen, tensor);
        gen.writeEndObject();
      }
      gen.writeEndArray();
    }
    gen.writeEndObject();
  }

  @Override
  public void serializeWithType(
      JsonGenerator gen, SerializerProvider provider, TypeSerializer typeSer) throws IOException {
    serialize(gen, provider);
  }

  /** {@code "outputs"}, {@code "shape"} and {@code "dtype"} of one tensor. */
  private static void tensor(JsonGenerator gen, Tensor tensor) throws IOException {
    gen.writeFieldName("outputs");
    values(gen, tensor, 0, 0);
    gen.writeArrayFieldStart("shape");
    for (long dim : tensor.shape()) {
      gen.writeNumber(dim);
    }
    gen.writeEndArray();
    gen.writeStringField("dtype", tensor.dtype());
  }

  /** The values from {@code at} on, nested from {@code depth} on; the index after them. */
  private static int values(JsonGenerator gen, Tensor tensor, int depth, int at)
      throws IOException {
    long[] shape = tensor.shape();
    if (depth == shape.length) {
      double[] floats = tensor.floats();
      long[] ints = tensor.ints();
      if (floats != null) {
        gen.writeNumber(floats[at]);
      } else if (ints != null) {
        gen.writeNumber(ints[at]);
      } else {
        gen.writeBoolean(Objects.requireNonNull(tensor.bools(), "a bool tensor")[at]);
      }
      return at + 1;
    }
    gen.writeStartArray();
    int next = at;
    for (long k = 0; k < shape[depth]; k++) {
      next = values(gen, tensor, depth + 1, next);
    }
    gen.writeEndArray();
    return next;
  }
}
