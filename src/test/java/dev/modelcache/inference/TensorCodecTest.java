package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** JSON to tensors and back, and the batch arithmetic of {@link Tensor}, without an engine. */
class TensorCodecTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode json(String text) throws Exception {
    return JSON.readTree(text);
  }

  @Test
  void nestedArraysGiveTheirShapeAndDtype() throws Exception {
    Tensor floats = TensorCodec.parseNested(json("[[1, 2.5], [3, 4]]"), "inputs", null);
    assertThat(floats.dtype()).isEqualTo("float32");
    assertThat(floats.shape()).containsExactly(2, 2);
    assertThat(floats.floats()).containsExactly(1, 2.5, 3, 4);
    Tensor bools = TensorCodec.parseNested(json("[true, false]"), "inputs", null);
    assertThat(bools.dtype()).isEqualTo("bool");
    assertThat(bools.bools()).containsExactly(true, false);
    Tensor longs = TensorCodec.parseNested(json("[9007199254740993]"), "inputs", "int64");
    assertThat(longs.ints()).containsExactly(9007199254740993L);
    assertThat(TensorCodec.toJson(longs).toString()).isEqualTo("[9007199254740993]");
  }

  @Test
  void valuesMustFitTheirDtype() throws Exception {
    assertThatThrownBy(() -> TensorCodec.parseNested(json("[2147483648]"), "inputs", "int32"))
        .hasMessage("inputs[0] (2147483648) does not fit in int32");
    assertThatThrownBy(() -> TensorCodec.parseNested(json("[1e39]"), "inputs", "float32"))
        .hasMessage("inputs[0] (1.0E39) does not fit in float32");
    assertThatThrownBy(() -> TensorCodec.parseNested(json("[[1, 2], [3]]"), "inputs", null))
        .hasMessageStartingWith("inputs[1] has 1 elements but 2 were expected");
    assertThatThrownBy(() -> TensorCodec.dtype("float16", "inputs.dtype"))
        .hasMessage(
            "inputs.dtype has dtype 'float16'; use one of float32, float64, int32, int64, bool");
  }

  @Test
  void flatDataMustFillItsShapeWithoutAllocatingWhatIsNotThere() throws Exception {
    Tensor t =
        TensorCodec.parseFlat(json("[[1, 2, 3], [4, 5, 6]]"), new long[] {3, 2}, "int64", "x");
    assertThat(t.shape()).containsExactly(3, 2);
    assertThat(t.ints()).containsExactly(1, 2, 3, 4, 5, 6);
    assertThatThrownBy(
            () ->
                TensorCodec.parseFlat(
                    json("[1]"), new long[] {1_000_000, 1_000_000}, "float32", "x"))
        .hasMessage("x of shape [1000000, 1000000] has too many elements");
    assertThatThrownBy(() -> TensorCodec.parseFlat(json("[1, 2]"), new long[] {3}, "float32", "x"))
        .hasMessage("x has 2 values but its shape [3] needs 3");
    assertThat(TensorCodec.toFlatJson(t).toString()).isEqualTo("[1,2,3,4,5,6]");
  }

  @Test
  void concatenatedRowsSplitBackExactly() {
    Tensor a = Tensor.ofInts("int64", new long[] {1, 2}, new long[] {1, 2});
    Tensor b = Tensor.ofInts("int64", new long[] {2, 2}, new long[] {3, 4, 5, 6});
    Tensor both = Tensor.concat(List.of(a, b));
    assertThat(both.shape()).containsExactly(3, 2);
    assertThat(both.rows(0, 1)).isEqualTo(a);
    assertThat(both.rows(1, 2)).isEqualTo(b);
  }
}
