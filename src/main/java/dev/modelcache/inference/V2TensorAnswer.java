package dev.modelcache.inference;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonSerializable;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.jsontype.TypeSerializer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A {@code tensor} model's Open Inference Protocol v2 JSON answer, written straight from the output
 * arrays by Jackson's generator when it is serialised: no tree, no boxed numbers. It writes the
 * same fields, in the same order and with the same number forms, as {@code http.V2Json.response}
 * writes from {@link TensorTask#renderV2}.
 */
final class V2TensorAnswer implements JsonSerializable {
  /**
   * Every output of one request, named as {@link TensorTask#renderV2} names them.
   *
   * @param revision the revision that answered
   */
  record Outputs(String revision, List<String> names, List<Tensor> tensors) {}

  private final String model;
  private final @Nullable String id;
  private final String revision;
  private final List<String> names;
  private final List<Tensor> tensors;

  private V2TensorAnswer(
      String model,
      @Nullable String id,
      String revision,
      List<String> names,
      List<Tensor> tensors) {
    this.model = model;
    this.id = id;
    this.revision = revision;
    this.names = names;
    this.tensors = tensors;
  }

  /**
   * The answer of {@code model} to a request with {@code id} that asked for the outputs {@code
   * wanted} (empty: all); a 400 when it asked for one that the model does not give.
   */
  static V2TensorAnswer of(
      String model, @Nullable String id, List<String> wanted, Outputs outputs) {
    if (wanted.isEmpty()) {
      return new V2TensorAnswer(model, id, outputs.revision(), outputs.names(), outputs.tensors());
    }
    V2Tensor.checkWanted(model, new LinkedHashSet<>(outputs.names()), wanted);
    List<String> names = new ArrayList<>();
    List<Tensor> tensors = new ArrayList<>();
    for (int i = 0; i < outputs.names().size(); i++) {
      if (wanted.contains(outputs.names().get(i))) {
        names.add(outputs.names().get(i));
        tensors.add(outputs.tensors().get(i));
      }
    }
    return new V2TensorAnswer(model, id, outputs.revision(), names, tensors);
  }

  @Override
  public void serialize(JsonGenerator gen, SerializerProvider provider) throws IOException {
    gen.writeStartObject();
    gen.writeStringField("model_name", model);
    gen.writeStringField("model_version", revision);
    if (id != null) {
      gen.writeStringField("id", id);
    }
    gen.writeArrayFieldStart("outputs");
    for (int i = 0; i < tensors.size(); i++) {
      Tensor tensor = tensors.get(i);
      gen.writeStartObject();
      gen.writeStringField("name", names.get(i));
      gen.writeStringField("datatype", TensorCodec.toV2(tensor.dtype()));
      gen.writeFieldName("shape");
      gen.writeArray(tensor.shape(), 0, tensor.shape().length);
      gen.writeFieldName("data");
      double[] floats = tensor.floats();
      long[] ints = tensor.ints();
      if (floats != null) {
        gen.writeArray(floats, 0, floats.length);
      } else if (ints != null) {
        gen.writeArray(ints, 0, ints.length);
      } else {
        gen.writeStartArray();
        for (boolean value : Objects.requireNonNull(tensor.bools(), "a bool tensor")) {
          gen.writeBoolean(value);
        }
        gen.writeEndArray();
      }
      gen.writeEndObject();
    }
    gen.writeEndArray();
    gen.writeEndObject();
  }

  @Override
  public void serializeWithType(
      JsonGenerator gen, SerializerProvider provider, TypeSerializer typeSer) throws IOException {
    serialize(gen, provider);
  }
}
