// The tiny TorchScript pass (docs/performance.md, "The tiny pass"): TensorPredictor on one model file loaded twice,
// once whose first passes ran with libtorch's graph-executor optimisation on (the default) and once with it off
// (JniUtils.setGraphExecutorOptimize(false) on the thread before the first pass: the flag is thread-local, the plan a
// method's executor builds at its first pass is kept for its life), then rounds alternating the two, each under the
// thread's flag on and off. CPU time and allocated bytes of the thread per pass; the answers of both compared bit for
// bit on 200 random inputs first. One intra-op thread, so libtorch's pass runs on the caller's thread.
//   mvn -B -o -q compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
//   javac -d target/predictorbench -cp target/classes:$(cat target/cp.txt) bench/TorchPassBench.java
//   java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 \
//     -cp target/predictorbench:target/classes:$(cat target/cp.txt) dev.modelcache.inference.TorchPassBench \
//     models/iris/model.pt 1,4 5000 20   # N passes a round, ROUNDS: median and min per variant
// (digits: models/digits/model.pt 1,1,8,8; inputs are uniform in [0, 16).)
package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

public class TorchPassBench {
  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[0]);
    long[] shape = Arrays.stream(args[1].split(",")).mapToLong(Long::parseLong).toArray();
    int n = Integer.parseInt(args[2]);
    int rounds = Integer.parseInt(args[3]);
    int size = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    Random random = new Random(7);
    try (ZooModel<List<TensorTask.Item>, List<TensorTask.Item>> on = load(file);
        ZooModel<List<TensorTask.Item>, List<TensorTask.Item>> off = load(file);
        TensorPredictor pOn = new TensorPredictor(on, true);
        TensorPredictor pOff = new TensorPredictor(off, true)) {
      List<TensorTask.Item> items = items(shape, size, random);
      // -DoffFirst=true: the model with the flag off makes the process's first pass (first-use costs) instead
      for (TensorPredictor p : Boolean.getBoolean("offFirst") ? List.of(pOff, pOn) : List.of(pOn, pOff)) {
        JniUtils.setGraphExecutorOptimize(p == pOn);
        StringBuilder first = new StringBuilder();
        for (int i = 0; i < 50; i++) {
          long t0 = System.nanoTime();
          p.predict(items);
          if (i < 4) {
            first.append(String.format(" %.0f", (System.nanoTime() - t0) / 1e3));
          }
        }
        System.out.printf("optimize=%s: the first 4 passes took%s us%n", p == pOn, first);
      }
      JniUtils.setGraphExecutorOptimize(true);
      int same = 0;
      for (int i = 0; i < 200; i++) {
        List<TensorTask.Item> in = items(shape, size, random);
        if (pOn.predict(in).get(0).tensors().equals(pOff.predict(in).get(0).tensors())) {
          same++;
        }
      }
      System.out.printf("%s: answers identical on %d of 200 random inputs%n", file, same);
      double[][] us = new double[4][rounds];
      long[] bytesAll = new long[4];
      for (int r = -1; r < rounds; r++) {
        int v = 0;
        for (TensorPredictor p : List.of(pOn, pOff)) {
          for (boolean flag : new boolean[] {true, false}) {
            JniUtils.setGraphExecutorOptimize(flag);
            long t = Thread.currentThread().getId();
            long cpu = mx.getThreadCpuTime(t), bytes = mx.getThreadAllocatedBytes(t);
            for (int i = 0; i < n; i++) {
              p.predict(items);
            }
            if (r >= 0) {
              us[v][r] = (mx.getThreadCpuTime(t) - cpu) / 1e3 / n;
              bytesAll[v] += mx.getThreadAllocatedBytes(t) - bytes;
            }
            v++;
          }
        }
      }
      String[] names = {"first passes optimize=on,  thread flag on ", "first passes optimize=on,  thread flag off",
          "first passes optimize=off, thread flag on ", "first passes optimize=off, thread flag off"};
      for (int v = 0; v < 4; v++) {
        double[] sorted = us[v].clone();
        Arrays.sort(sorted);
        System.out.printf("%s: median %6.2f us, min %6.2f us CPU a pass (%d rounds of %d), %d B a pass%n", names[v],
            sorted[rounds / 2], sorted[0], rounds, n, bytesAll[v] / ((long) rounds * n));
      }
      JniUtils.setGraphExecutorOptimize(true);
    }
  }

  private static List<TensorTask.Item> items(long[] shape, int size, Random random) {
    double[] values = new double[size];
    for (int i = 0; i < size; i++) {
      values[i] = random.nextDouble() * 16;
    }
    return List.of(new TensorTask.Item(List.of(Tensor.ofFloats("float32", shape, values)), true));
  }

  @SuppressWarnings("unchecked")
  private static ZooModel<List<TensorTask.Item>, List<TensorTask.Item>> load(Path file) throws Exception {
    Class<List<TensorTask.Item>> type = (Class<List<TensorTask.Item>>) (Class<?>) List.class;
    return Criteria.builder().setTypes(type, type).optEngine("PyTorch").optDevice(Device.cpu())
        .optModelPath(file).optTranslator(new TensorTranslator()).build().loadModel();
  }
}
