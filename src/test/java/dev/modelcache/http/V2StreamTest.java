package dev.modelcache.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.inference.V2Paths;
import dev.modelcache.inference.V2Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fast path of a tensor model's Open Inference Protocol JSON request ({@code V2Stream}, {@code
 * V2TensorAnswer}) against the tree path it stands in for ({@link V2Json}, {@link V2Binary}'s
 * inline check, {@link V2BinaryOutputs}, the task's {@code parseV2} and {@code renderV2}): the same
 * item, id and outputs from every body it takes, null (the tree path and its messages) for every
 * body the tree path refuses, and the same answer bytes.
 */
class V2StreamTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final V2Paths ANY = new V2Paths("iris", List.of(), List.of());
  private static final String A = "{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP32\"";

  /** The tree path's reading of a body, as the route and the registry take it, up to the item. */
  private record Tree(V2Json.Request request, Object item) {}

  private static Tree tree(V2Paths paths, String body) throws Exception {
    JsonNode node = JSON.readTree(body);
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException("not an object: RequestBodies.object's 400");
    }
    JsonNode request = V2Binary.inlineInputs(node, new byte[0], 0, false);
    JsonNode named = request.path("model_name");
    if (!named.isMissingNode() && !named.asText().equals("iris")) {
      throw new IllegalArgumentException("another model_name: V2Routes' 400");
    }
    V2Json.Request parsed = V2Json.parseRequest(request);
    V2BinaryOutputs.Wanted binary = V2BinaryOutputs.of(request);
    assertThat(binary.all()).as(body).isFalse();
    assertThat(binary.byName()).as(body).doesNotContainValue(true);
    return new Tree(parsed, paths.fitTree(parsed.inputs()));
  }

  private static void assertSame(V2Paths paths, String body) throws Exception {
    V2Paths.Read fast = paths.fast(body);
    Tree tree = tree(paths, body);
    assertThat(fast).as(body).isNotNull();
    assertThat(fast.id()).as(body).isEqualTo(tree.request().id());
    assertThat(fast.outputs()).as(body).isEqualTo(tree.request().outputs());
    assertThat(paths.fitFast(fast)).as(body).isEqualTo(tree.item());
  }

  @Test
  void readsEveryDatatypeFlatOrNestedIntoTheItemTheTreePathReads() throws Exception {
    String[] bodies = {
      "{\"inputs\": [{\"name\": \"input0\", \"shape\": [1, 4], \"datatype\": \"FP32\","
          + " \"data\": [5.1, 3.4, 1.5, 0.2]}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 2], \"datatype\": \"FP32\","
          + " \"data\": [[5.1, 3.4], [1.5, 0.2]]}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [4], \"datatype\": \"FP64\","
          + " \"data\": [[1, 2], [3], [[4e-300]], []]}]}", // nested in any way
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [], \"datatype\": \"INT64\", \"data\": 7}]}",
      "{\"inputs\": [{\"data\": -7, \"name\": \"x\", \"shape\": [], \"datatype\": \"INT64\"}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"INT64\", \"data\": 7}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [3], \"datatype\": \"INT64\","
          + " \"data\": [9007199254740993, -9223372036854775808, 9223372036854775807]}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [2], \"datatype\": \"INT32\","
          + " \"data\": [2147483647, -2147483648]}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 2], \"datatype\": \"BOOL\","
          + " \"data\": [[true, false], [false, true]]}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [5], \"datatype\": \"FP32\","
          + " \"data\": [-0.0, 0, 1e-45, 3.4028234663852886e38, -7]}]}",
      "{\"inputs\": [{\"name\": \"x\", \"shape\": [0], \"datatype\": \"FP32\", \"data\": []}]}",
      "{\"id\": \"a\\\"b\\\\n\\u00e9\", \"model_name\": \"iris\", \"parameters\": {\"a\": {\"b\":"
          + " [1, {\"binary_data_output\": true}]}, \"c\": null}, \"inputs\": [{\"name\": \"x\","
          + " \"parameters\": {\"content_type\": \"t\", \"n\": [1]}, \"shape\": [1],"
          + " \"datatype\": \"FP32\", \"data\": [1]}], \"outputs\": [{\"name\": \"output0\","
          + " \"parameters\": {\"classification\": 2}, \"other\": [1]}, {\"name\": \"o1\"}]}",
      "{\"outputs\": [], \"inputs\": [{\"name\": \"x\", \"parameters\": \"not an object\","
          + " \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}",
      "{\"inputs\": [{\"data\": [[1, 2]], \"name\": \"x\", \"shape\": [2], \"datatype\": \"INT32\"},"
          + " {\"shape\": [1], \"data\": true, \"datatype\": \"BOOL\", \"name\": \"y\"}]}",
      " {\"inputs\":[{\"name\":\"\u00fcn\u00efcode\",\"shape\":[1,1,1,1,1,1,1,1],"
          + "\"datatype\":\"FP64\",\"data\":[[[[[[[[0.5]]]]]]]]}]}\n",
    };
    for (String body : bodies) {
      assertSame(ANY, body);
    }
  }

  @Test
  void ordersAndChecksInputsAgainstTheDeclaredOnesAsTheTreePathDoes() throws Exception {
    V2Paths declared =
        new V2Paths(
            "iris",
            List.of(
                new V2Tensor.Spec("a", "FP32", new long[] {2}),
                new V2Tensor.Spec("b", "INT64", new long[] {-1})),
            List.of(new V2Tensor.Spec("scores", "FP32", new long[] {3})));
    String b = "{\"name\": \"b\", \"shape\": [1, 3], \"datatype\": \"INT64\", \"data\": [1, 2, 3]}";
    assertSame(
        declared,
        "{\"inputs\": [" + b + ", " + A.replace("[2]", "[1, 2]") + ", \"data\": [1, 2]}]}");
    assertSame(
        declared,
        "{\"inputs\": [{\"name\": \"b\", \"shape\": [3], \"datatype\": \"INT64\", \"data\": [1, 2,"
            + " 3]}, "
            + A
            + ", \"data\": [1, 2]}]}");
    String[] refused = { // read by both, refused by the model: the same message
      "{\"inputs\": [" + A + ", \"data\": [1, 2]}]}", // one input of two
      "{\"inputs\": ["
          + b
          + ", {\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP64\","
          + " \"data\": [1, 2]}]}",
      "{\"inputs\": [" + b + ", " + A.replace("[2]", "[3]") + ", \"data\": [1, 2, 3]}]}",
      "{\"inputs\": [" + b + ", " + A.replace("[2]", "[2, 2]") + ", \"data\": [1, 2, 3, 4]}]}",
    };
    for (String body : refused) {
      V2Paths.Read fast = declared.fast(body);
      assertThat(fast).as(body).isNotNull();
      Throwable treeError = catchThrowable(() -> tree(declared, body));
      assertThat(treeError).as(body).isInstanceOf(InvalidInputException.class);
      assertThatThrownBy(() -> declared.fitFast(fast))
          .as(body)
          .isInstanceOf(InvalidInputException.class)
          .hasMessage(treeError.getMessage());
    }
  }

  @Test
  void readsRandomBodiesOfEveryShapeAndOrderAsTheTreePathDoes() throws Exception {
    Random random = new Random(18);
    for (int n = 0; n < 300; n++) {
      assertSame(ANY, randomBody(random));
    }
  }

  private static String randomBody(Random random) {
    List<String> fields = new ArrayList<>();
    List<String> inputs = new ArrayList<>();
    for (int i = random.nextInt(3); i >= 0; i--) {
      inputs.add(randomInput(random, "in" + i));
    }
    fields.add("\"inputs\": [" + String.join(", ", inputs) + "]");
    if (random.nextBoolean()) {
      fields.add("\"id\": \"req-" + random.nextInt(1000) + "\"");
    }
    if (random.nextBoolean()) {
      fields.add("\"parameters\": {\"k\": " + random.nextInt() + "}");
    }
    if (random.nextBoolean()) {
      fields.add("\"outputs\": [{\"name\": \"output0\"}]");
    }
    if (random.nextBoolean()) {
      fields.add("\"model_name\": \"iris\"");
    }
    Collections.shuffle(fields, random);
    return "{" + String.join(", ", fields) + "}";
  }

  private static String randomInput(Random random, String name) {
    String[] datatypes = {"FP32", "FP64", "INT32", "INT64", "BOOL"};
    String datatype = datatypes[random.nextInt(datatypes.length)];
    int rank = random.nextInt(5);
    long[] shape = new long[rank];
    int count = 1;
    for (int i = 0; i < rank; i++) {
      shape[i] = random.nextInt(10) == 0 ? 0 : 1 + random.nextInt(3);
      count *= (int) shape[i];
    }
    List<String> values = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      values.add(
          switch (datatype) {
            case "FP32" -> Float.toString((float) (random.nextGaussian() * 1e3));
            case "FP64" ->
                Double.toString(random.nextGaussian() * Math.pow(10, random.nextInt(600) - 300));
            case "INT32" -> Integer.toString(random.nextInt());
            case "INT64" -> Long.toString(random.nextLong());
            default -> Boolean.toString(random.nextBoolean());
          });
    }
    String data =
        rank == 0 && random.nextBoolean()
            ? values.get(0)
            : random.nextBoolean() ? "[" + String.join(", ", values) + "]" : nested(values, shape);
    List<String> fields =
        new ArrayList<>(
            List.of(
                "\"name\": \"" + name + "\"",
                "\"shape\": " + java.util.Arrays.toString(shape),
                "\"datatype\": \"" + datatype + "\"",
                "\"data\": " + data));
    if (random.nextInt(4) == 0) {
      fields.add("\"parameters\": {\"content_type\": \"x\"}");
    }
    Collections.shuffle(fields, random);
    return "{" + String.join(", ", fields) + "}";
  }

  /** The values nested as {@code shape} says (row-major). */
  private static String nested(List<String> values, long[] shape) {
    if (shape.length == 0) {
      return "[" + String.join(", ", values) + "]";
    }
    List<String> rows = new ArrayList<>();
    int row = shape[0] == 0 ? 0 : values.size() / (int) shape[0];
    long[] rest = java.util.Arrays.copyOfRange(shape, 1, shape.length);
    for (int i = 0; i < shape[0]; i++) {
      List<String> part = values.subList(i * row, (i + 1) * row);
      rows.add(rest.length == 0 ? part.get(0) : nested(part, rest));
    }
    return "[" + String.join(", ", rows) + "]";
  }

  @Test
  void leavesEveryBodyTheTreePathRefusesToItsMessages() {
    String[] bodies = {
      "",
      "x",
      "[1]",
      "null",
      "{\"inputs\": [" + A + ", \"data\": [1, 2]}]", // cut short
      "{}",
      "{\"inputs\": [" + A + ", \"data\": [1, 2]}], \"foo\": 1}",
      "{\"id\": 5, \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"id\": null, \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"parameters\": [], \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"parameters\": {\"binary_data_output\": \"yes\"}, \"inputs\": ["
          + A
          + ", \"data\": [1,"
          + " 2]}]}",
      "{\"model_name\": \"other\", \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"model_name\": 5, \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"inputs\": []}",
      "{\"inputs\": {}}",
      "{\"inputs\": [1]}",
      "{\"inputs\": null}",
      "{\"inputs\": [" + A + ", \"data\": [1, 2], \"dtype\": \"x\"}]}",
      "{\"inputs\": [{\"shape\": [2], \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": 1, \"shape\": [2], \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": 1, \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP16\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": \"fp32\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": [\"t\"]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": 2, \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [-2], \"datatype\": \"FP32\", \"data\": [1]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [2.0], \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [[2]], \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [1,1,1,1,1,1,1,1,1], \"datatype\": \"FP32\","
          + " \"data\": [1]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [2147483648, 2], \"datatype\": \"FP32\","
          + " \"data\": [1]}]}",
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [99999999999999999999], \"datatype\": \"FP32\","
          + " \"data\": [1]}]}",
      "{\"inputs\": [" + A + "}]}",
      "{\"inputs\": [" + A + ", \"data\": null}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, 2, 3]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, \"2\"]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, null]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, {}]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, true]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, 1e39]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, NaN]}]}",
      "{\"inputs\": [" + A.replace("FP32", "FP64") + ", \"data\": [1, 1e400]}]}",
      "{\"inputs\": [" + A.replace("FP32", "INT32") + ", \"data\": [1, 2147483648]}]}",
      "{\"inputs\": [" + A.replace("FP32", "INT64") + ", \"data\": [1, 1.5]}]}",
      "{\"inputs\": [" + A.replace("FP32", "INT64") + ", \"data\": [1, \"2\"]}]}",
      "{\"inputs\": [" + A.replace("FP32", "INT64") + ", \"data\": [1, 9223372036854775808]}]}",
      "{\"inputs\": [" + A.replace("FP32", "BOOL") + ", \"data\": [true, 1]}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, 2]}, " + A + ", \"data\": [3, 4]}]}", // a twice
      "{\"inputs\": [" + A + ", \"parameters\": {\"binary_data_size\": 8}}]}",
      "{\"inputs\": [" + A + ", \"data\": [1, 2], \"parameters\": {\"binary_data_size\": 0}}]}",
      "{\"outputs\": {}, \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"outputs\": [1], \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"outputs\": [{}], \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"outputs\": [{\"name\": 1}], \"inputs\": [" + A + ", \"data\": [1, 2]}]}",
      "{\"outputs\": [{\"name\": \"o\", \"parameters\": {\"binary_data\": 1}}], \"inputs\": ["
          + A
          + ", \"data\": [1, 2]}]}",
    };
    for (String body : bodies) {
      assertThat(ANY.fast(body)).as(body).isNull();
      assertThat(catchThrowable(() -> tree(ANY, body))).as(body).isNotNull(); // refused before
    }
  }

  @Test
  void leavesBodiesThatAskForBinaryDataOrRepeatAFieldToTheTreePath() throws Exception {
    String data = A + ", \"data\": [1, 2]}";
    String[] bodies = {
      "{\"inputs\": [" + data + "], \"inputs\": [" + data + "]}",
      "{\"id\": \"a\", \"id\": \"b\", \"inputs\": [" + data + "]}",
      "{\"inputs\": [" + A + ", \"data\": [1, 2], \"data\": [3, 4]}]}",
      "{\"parameters\": {\"binary_data_output\": false}, \"inputs\": [" + data + "]}",
      "{\"outputs\": [{\"name\": \"o\", \"parameters\": {\"binary_data\": false}}], \"inputs\": ["
          + data
          + "]}",
      "{\"outputs\": [{\"name\": \"o\", \"name\": \"p\"}], \"inputs\": [" + data + "]}",
      "{\"inputs\": [" + A + ", \"data\": [1, 123456789012345678901234567890]}]}", // a BigInteger
      "{\"inputs\": [{\"name\": \"a\", \"shape\": [4294967296, 0], \"datatype\": \"FP32\","
          + " \"data\": []}]}",
    };
    for (String body : bodies) {
      assertThat(ANY.fast(body)).as(body).isNull();
      tree(ANY, body); // which reads them
    }
  }

  @Test
  void answersTheSameBytesAsTheTreeForEveryDatatypeAndShape() throws Exception {
    V2Paths declared =
        new V2Paths(
            "iris",
            List.of(),
            List.of(
                new V2Tensor.Spec("scores", "FP32", new long[] {3}),
                new V2Tensor.Spec("ids", "INT64", new long[] {-1})));
    Random random = new Random(18);
    String[] dtypes = {"float32", "float64", "int32", "int64", "bool"};
    for (int n = 0; n < 200; n++) {
      List<Object> tensors = new ArrayList<>();
      boolean unbatched = random.nextBoolean();
      for (int t = random.nextInt(4); t >= 0; t--) {
        String dtype = dtypes[random.nextInt(dtypes.length)];
        long[] shape = new long[random.nextInt(4) + (unbatched ? 1 : 0)];
        int count = 1;
        for (int i = 0; i < shape.length; i++) {
          shape[i] = unbatched && i == 0 ? 1 : random.nextInt(4);
          count *= (int) shape[i];
        }
        double[] values = new double[count];
        for (int i = 0; i < count; i++) {
          values[i] =
              switch (dtype) {
                case "float32" ->
                    (float) (random.nextGaussian() * Math.pow(10, random.nextInt(20) - 10));
                case "float64" -> random.nextGaussian() * Math.pow(10, random.nextInt(600) - 300);
                case "int32" -> random.nextInt();
                default -> random.nextInt(3) - 1;
              };
        }
        tensors.add(
            dtype.equals("int64") && random.nextBoolean()
                ? V2Paths.ints(
                    dtype, shape, count == 0 ? new long[0] : fill(count, random.nextLong()))
                : V2Paths.tensor(dtype, shape, values));
      }
      List<Object> items = List.of(V2Paths.item(unbatched, tensors));
      String id = random.nextBoolean() ? null : "req-" + n + "\u00e9\"";
      List<String> wanted =
          switch (random.nextInt(3)) {
            case 0 -> List.of();
            case 1 -> List.of("scores");
            default -> List.of("ids", "scores");
          };
      if (wanted.contains("ids") && tensors.size() < 2) {
        wanted = List.of("scores");
      }
      V2Json.Request request = new V2Json.Request(id, List.of(), wanted);
      byte[] tree =
          JSON.writeValueAsBytes(
              V2Json.response(
                  JSON, "iris", request, new V2Answer("f2770b5f", declared.treeOutputs(items))));
      byte[] fast = declared.fastAnswer(JSON, "f2770b5f", id, wanted, items);
      assertThat(new String(fast, java.nio.charset.StandardCharsets.UTF_8))
          .isEqualTo(new String(tree, java.nio.charset.StandardCharsets.UTF_8));
    }
  }

  private static long[] fill(int count, long first) {
    long[] values = new long[count];
    values[0] = first;
    values[count - 1] = count % 2 == 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    return values;
  }

  @Test
  void refusesAnOutputTheModelDoesNotGiveWithTheTreePathsMessage() {
    List<Object> items =
        List.of(
            V2Paths.item(
                false, List.of(V2Paths.tensor("float32", new long[] {1, 2}, new double[] {1, 2}))));
    List<String> wanted = List.of("output0", "nope");
    V2Json.Request request = new V2Json.Request(null, List.of(), wanted);
    Throwable tree =
        catchThrowable(
            () ->
                V2Json.response(JSON, "iris", request, new V2Answer("r", ANY.treeOutputs(items))));
    assertThat(tree)
        .isInstanceOf(InvalidInputException.class)
        .hasMessage("output 'nope' is not an output of model iris (outputs: output0)");
    assertThatThrownBy(() -> ANY.fastAnswer(JSON, "r", null, wanted, items))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage(tree.getMessage());
  }
}
