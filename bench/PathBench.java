// The parse and render of the iris request, tree path against stream path, in-process (docs/performance.md, "Where a
// request's time goes"): allocated bytes and CPU time per request of one thread, out of reach of the machine's load.
// Then the same for the Open Inference Protocol v2 JSON (POST /v2/models/{m}/infer): iris, and 1000 FP32 values in
// and out (bench/V2PathBench.java holds the http side of its tree path).
//   mvn -B -o -q dependency:build-classpath -Dmdep.outputFile=target/cp.txt
//   javac -d target/pathbench -cp target/classes:$(cat target/cp.txt) bench/PathBench.java bench/V2PathBench.java
//   java -cp target/pathbench:target/classes:$(cat target/cp.txt) dev.modelcache.inference.PathBench 200000
package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.List;

public class PathBench {
  static final ObjectMapper JSON = new ObjectMapper();
  static final OutputStream NULL = new OutputStream() { @Override public void write(int b) {} @Override public void write(byte[] b, int o, int l) {} };
  static final TensorTask TASK = new TensorTask("iris", List.of("setosa", "versicolor", "virginica"),
      new TensorSignature(List.of(new V2Tensor.Spec("input", "FP32", new long[] {4})), List.of()));
  static final byte[] BODY = "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}".getBytes(StandardCharsets.UTF_8);
  static final List<TensorTask.Item> OUT = List.of(new TensorTask.Item(List.of(Tensor.ofFloats("float32",
      new long[] {1, 3}, new double[] {8.207340240478516, 3.2430741786956787, -6.815404891967773})), true));

  static void tree() throws Exception {
    JsonNode body = JSON.readTree(BODY, 0, BODY.length);
    TASK.parse(body.get("inputs"));
    ObjectNode answer = JSON.createObjectNode();
    answer.put("model", "iris");
    answer.put("revision", "0123456789abcdef");
    TASK.renderAnswer(OUT, answer);
    JSON.writeValue(NULL, answer);
  }

  static void stream() throws Exception {
    Tensor t = TASK.stream(BODY, BODY.length, "iris");
    TASK.fit(t);
    JSON.writeValue(NULL, TASK.answer("iris", "0123456789abcdef", OUT));
  }

  /** One v2 request and its answer: the task, the body, the outputs the model gives. */
  public record V2Case(TensorTask task, byte[] body, List<TensorTask.Item> outputs) {}

  static final V2Case V2_IRIS = new V2Case(TASK, ("{\"id\": \"42\", \"inputs\": [{\"name\": \"input\", \"shape\": [1, 4],"
      + " \"datatype\": \"FP32\", \"data\": [5.1, 3.4, 1.5, 0.2]}]}").getBytes(StandardCharsets.UTF_8), OUT);
  static final V2Case V2_WIDE = wide(1000);

  static V2Case wide(int n) {
    StringBuilder body = new StringBuilder("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, " + n
        + "], \"datatype\": \"FP32\", \"data\": [");
    double[] values = new double[n];
    java.util.Random random = new java.util.Random(18);
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian();
      body.append(i == 0 ? "" : ", ").append((float) values[i]);
    }
    TensorTask task = new TensorTask("iris", List.of(), TensorSignature.NONE);
    return new V2Case(task, body.append("]}]}").toString().getBytes(StandardCharsets.UTF_8),
        List.of(new TensorTask.Item(List.of(Tensor.ofFloats("float32", new long[] {1, n}, values)), false)));
  }

  public static void v2TreeItem(V2Case c, List<V2Tensor> inputs) {
    c.task().parseV2(inputs);
  }

  public static List<V2Tensor> v2TreeOutputs(V2Case c) {
    return c.task().renderV2(c.outputs());
  }

  static void v2Stream(V2Case c) throws Exception {
    V2Stream.Request request = V2Stream.parse(c.body(), c.body().length, "iris", "iris");
    c.task().fitV2(request.inputs());
    JSON.writeValue(NULL, V2TensorAnswer.of("iris", request.id(), request.outputs(),
        c.task().outputsV2("0123456789abcdef", c.outputs())));
  }

  interface Op { void run() throws Exception; }

  static void measure(String name, Op op, int n) throws Exception {
    var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long id = Thread.currentThread().getId();
    long a0 = mx.getThreadAllocatedBytes(id), c0 = mx.getCurrentThreadCpuTime();
    for (int i = 0; i < n; i++) op.run();
    long a1 = mx.getThreadAllocatedBytes(id), c1 = mx.getCurrentThreadCpuTime();
    System.out.printf("%s: %d B/op, %.2f us CPU/op%n", name, (a1 - a0) / n, (c1 - c0) / 1e3 / n);
  }

  public static void main(String[] args) throws Exception {
    int n = Integer.parseInt(args[0]);
    for (int r = 0; r < 3; r++) {
      measure("tree  ", PathBench::tree, n);
      measure("stream", PathBench::stream, n);
      measure("v2 tree  ", () -> dev.modelcache.http.V2PathBench.tree(JSON, NULL, V2_IRIS), n);
      measure("v2 stream", () -> v2Stream(V2_IRIS), n);
      measure("v2 tree   1000 FP32", () -> dev.modelcache.http.V2PathBench.tree(JSON, NULL, V2_WIDE), n / 50);
      measure("v2 stream 1000 FP32", () -> v2Stream(V2_WIDE), n / 50);
    }
  }
}
