// One iris pass (4 float32 in, 3 out), DJL's Predictor with the tensor task's translator against TensorPredictor,
// in-process (docs/performance.md, "The ceiling"): CPU time and allocated bytes per pass of one thread (libtorch's
// pass included: one intra-op thread, run on the caller's thread), out of reach of the machine's load. Rounds
// alternate the two.
//   mvn -B -o -q compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
//   javac -d target/predictorbench -cp target/classes:$(cat target/cp.txt) bench/PredictorBench.java
//   java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 \
//     -cp target/predictorbench:target/classes:$(cat target/cp.txt) dev.modelcache.inference.PredictorBench 50000 3
package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;

public class PredictorBench {
  public static void main(String[] args) throws Exception {
    int n = Integer.parseInt(args[0]);
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    @SuppressWarnings("unchecked")
    Class<List<TensorTask.Item>> type = (Class<List<TensorTask.Item>>) (Class<?>) List.class;
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    try (ZooModel<List<TensorTask.Item>, List<TensorTask.Item>> iris = Criteria.builder().setTypes(type, type)
            .optEngine("PyTorch").optDevice(Device.cpu()).optModelPath(Path.of("models/iris/model.pt"))
            .optTranslator(new TensorTranslator()).build().loadModel();
        Predictor<List<TensorTask.Item>, List<TensorTask.Item>> djl = iris.newPredictor();
        TensorPredictor lean = new TensorPredictor(iris, true)) {
      List<TensorTask.Item> items = List.of(new TensorTask.Item(List.of(Tensor.ofFloats("float32",
          new long[] {1, 4}, new double[] {5.1, 3.4, 1.5, 0.2})), true));
      for (int r = 1; r <= rounds; r++) {
        for (Predictor<List<TensorTask.Item>, List<TensorTask.Item>> p : List.of(djl, lean)) {
          long t = Thread.currentThread().getId();
          long cpu = mx.getThreadCpuTime(t), bytes = mx.getThreadAllocatedBytes(t);
          for (int i = 0; i < n; i++) {
            p.predict(items);
          }
          System.out.printf("round %d %-16s %7.2f us CPU a pass, %6d B allocated a pass%n", r,
              p == djl ? "DJL Predictor" : "TensorPredictor", (mx.getThreadCpuTime(t) - cpu) / 1e3 / n,
              (mx.getThreadAllocatedBytes(t) - bytes) / n);
        }
      }
    }
  }
}
