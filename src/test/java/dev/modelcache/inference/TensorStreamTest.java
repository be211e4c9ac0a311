package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The fast path of a plain tensor request ({@link TensorStream}, {@link TensorAnswer}) against the
 * tree path it stands in for: the same tensor from every body it takes, null (the tree path and its
 * messages) for every other, and the same answer bytes.
 */
class TensorStreamTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static @Nullable Tensor fast(String body, @Nullable String dtype) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return TensorStream.parse(bytes, bytes.length, "iris", dtype);
  }

  private static Tensor tree(String body, @Nullable String dtype) throws Exception {
    return TensorCodec.parseNested(JSON.readTree(body).get("inputs"), "inputs", dtype);
  }

  @Test
  void readsEveryPlainBodyIntoTheTensorTheTreePathReads() throws Exception {
    String[][] cases = {
      {"{\"inputs\": [5.1, 3.4, 1.5, 0.2]}", "float32"},
      {"{\"model\": \"iris\", \"inputs\": [[5.1, 3.4, 1.5, 0.2], [1, 2, 3, -4e-3]]}", "float32"},
      {"{\"inputs\": [[1, 2.5], [3, 4]]}", null},
      {"{\"inputs\": [[[1], [2]], [[3], [4]]], \"model\": \"iris\"}", "float64"},
      {"{\"inputs\": 7.25}", null},
      {"{\"inputs\": [true, false]}", null},
      {"{\"inputs\": [[true], [false]]}", "bool"},
      {"{\"inputs\": [9007199254740993, -1]}", "int64"},
      {"{\"inputs\": [2147483647, -2147483648]}", "int32"},
      {"{\"inputs\": [-0.0, 0, 1e-45, 3.4028234663852886e38, 1.7976931348623157e308]}", "float64"},
      {"{\"inputs\": [-0.0, 0, 1e-45, 3.4028234663852886e38]}", "float32"},
      {" {\"inputs\":[[[[[[[[1]]]]]]]]} ", null},
    };
    for (String[] c : cases) {
      Tensor fast = fast(c[0], c[1]);
      assertThat(fast).as(c[0]).isNotNull().isEqualTo(tree(c[0], c[1]));
      assertThat(fast.dtype()).as(c[0]).isEqualTo(tree(c[0], c[1]).dtype());
    }
  }

  @Test
  void leavesEveryOtherBodyToTheTreePathAndItsMessages() {
    String[][] cases = {
      {"{\"inputs\": [[1, 2], [3]]}", null}, // ragged
      {"{\"inputs\": [[1, 2], 3]}", null},
      {"{\"inputs\": [1, [2]]}", null},
      {"{\"inputs\": []}", null},
      {"{\"inputs\": [[]]}", null},
      {"{\"inputs\": [1, \"2\"]}", "float32"}, // not a number
      {"{\"inputs\": [1, null]}", "float32"},
      {"{\"inputs\": [NaN]}", "float32"}, // not JSON
      {"{\"inputs\": [1e39]}", "float32"}, // does not fit
      {"{\"inputs\": [1e400]}", "float64"},
      {"{\"inputs\": [123456789012345678901234567890]}", "float32"},
      {"{\"inputs\": [1.5]}", "int64"}, // wrong dtype
      {"{\"inputs\": [2147483648]}", "int32"},
      {"{\"inputs\": [true]}", "float32"},
      {"{\"inputs\": [1]}", "bool"},
      {"{\"inputs\": [true, 1]}", null},
      {"{\"inputs\": [{\"data\": [1]}]}", null}, // the typed forms
      {"{\"inputs\": {\"data\": [1], \"dtype\": \"int64\"}}", null},
      {"{\"inputs\": null}", null},
      {"{}", null},
      {"", null},
      {"[1]", null},
      {"{\"inputs\": [1]", null}, // cut short
      {"{\"inputs\": [1]} x", null}, // trailing
      {"{\"inputs\": [1], \"parameters\": {}}", null}, // another field
      {"{\"inputs\": [1], \"inputs\": [2]}", null},
      {"{\"model\": \"other\", \"inputs\": [1]}", null},
      {"{\"model\": 1, \"inputs\": [1]}", null},
      {"{\"inputs\": [[[[[[[[[1]]]]]]]]]}", null}, // 9 dimensions
    };
    for (String[] c : cases) {
      assertThat(fast(c[0], c[1])).as(c[0]).isNull();
    }
  }

  @Test
  void numbersRoundTripExactlyAndAnswersMatchTheTreeByteForByte() throws Exception {
    Random random = new Random(18);
    double[] doubles = new double[64];
    StringBuilder body = new StringBuilder("{\"inputs\": [");
    for (int i = 0; i < doubles.length; i++) {
      doubles[i] =
          i % 2 == 0
              ? (float) (random.nextGaussian() * Math.pow(10, random.nextInt(20) - 10))
              : random.nextGaussian() * Math.pow(10, random.nextInt(600) - 300);
      body.append(i == 0 ? "" : ", ").append(doubles[i]);
    }
    Tensor parsed = fast(body.append("]}").toString(), "float64");
    assertThat(parsed).isNotNull();
    assertThat(parsed.floats()).containsExactly(doubles);

    TensorTask task = new TensorTask("iris", List.of("a", "b", "c"), TensorSignature.NONE);
    List<TensorTask.Item> outputs =
        List.of(
            new TensorTask.Item(
                List.of(
                    Tensor.ofFloats(
                        "float32", new long[] {1, 3}, new double[] {0.25f, -1e-7f, 0.75f}),
                    Tensor.ofInts("int64", new long[] {1, 2}, new long[] {Long.MIN_VALUE, 7}),
                    Tensor.ofBools(new long[] {1}, new boolean[] {true}),
                    Tensor.ofFloats("float64", new long[] {1, 2, 32}, doubles)),
                true));
    ObjectNode tree = JSON.createObjectNode().put("model", "iris").put("revision", "abc");
    task.renderAnswer(outputs, tree);
    String streamed = JSON.writeValueAsString(task.answer("iris", "abc", outputs));
    assertThat(streamed).isEqualTo(JSON.writeValueAsString(tree));
    assertThat(streamed).contains("\"predictions\":[{\"label\":\"c\",\"index\":2,\"score\":0.75}]");
    assertThat(JSON.readTree(streamed).get("more_outputs").get(2).get("outputs").get(1))
        .hasSize(32);
  }
}
