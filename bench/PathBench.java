// The parse and render of the iris request, tree path against stream path, in-process (docs/performance.md, "Where a
// request's time goes"): allocated bytes and CPU time per request of one thread, out of reach of the machine's load.
//   javac -d target/pathbench -cp target/classes:$(cat target/cp.txt) bench/PathBench.java
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
    }
  }
}
