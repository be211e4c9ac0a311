// An in-process A/B of TensorPredictor (docs/performance.md, "The tiny pass"): the classes of two builds (A and B,
// such as a copy of main's target/classes and this branch's) each loaded by a class loader of its own over the same
// DJL and libtorch, one model file loaded by each, then ROUNDS rounds alternating A and B of N passes each, one
// thread. Prints the median and the minimum CPU time of a pass over the rounds and the bytes allocated a pass: on a
// busy machine one round moves by 30 %, the median and the minimum of many alternating rounds far less.
//   mvn -B -o -q compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
//   javac -d target/passab -cp target/classes:$(cat target/cp.txt) bench/PassAbBench.java
//   java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -cp target/passab:$(cat target/cp.txt) \
//     dev.modelcache.inference.PassAbBench target/classes-main target/classes models/iris/model.pt 1,4 5000 30
package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

public class PassAbBench {
  public static void main(String[] args) throws Exception {
    int n = Integer.parseInt(args[4]);
    int rounds = Integer.parseInt(args[5]);
    Method[] run = new Method[2];
    for (int s = 0; s < 2; s++) {
      ClassLoader loader = new ChildFirst(new URL[] {Path.of(args[s]).toUri().toURL(),
          PassAbBench.class.getProtectionDomain().getCodeSource().getLocation()});
      Class<?> worker = loader.loadClass("dev.modelcache.inference.PassAbBench$Worker");
      worker.getMethod("open", String.class, String.class).invoke(null, args[2], args[3]);
      run[s] = worker.getMethod("run", int.class);
    }
    double[][] us = new double[2][rounds];
    long[] bytes = new long[2];
    for (int r = -2; r < rounds; r++) {
      for (int s = 0; s < 2; s++) {
        double[] got = (double[]) run[s].invoke(null, n);
        if (r >= 0) {
          us[s][r] = got[0];
          bytes[s] += (long) got[1];
        }
      }
    }
    for (int s = 0; s < 2; s++) {
      double[] sorted = us[s].clone();
      Arrays.sort(sorted);
      System.out.printf("%s %s: median %6.2f us, min %6.2f us CPU a pass (%d rounds of %d), %d B a pass%n",
          s == 0 ? "A" : "B", args[s], sorted[rounds / 2], sorted[0], rounds, n, bytes[s] / rounds);
    }
  }

  /** Loads modelcache's classes itself, everything else (DJL, the JDK) from the parent. */
  static final class ChildFirst extends URLClassLoader {
    ChildFirst(URL[] urls) {
      super(urls, PassAbBench.class.getClassLoader());
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.startsWith("dev.modelcache.")) {
        return super.loadClass(name, resolve);
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        return c != null ? c : findClass(name);
      }
    }
  }

  public static final class Worker {
    static TensorPredictor predictor;
    static List<TensorTask.Item> items;

    @SuppressWarnings("unchecked")
    public static void open(String file, String shapeArg) throws Exception {
      Class<List<TensorTask.Item>> type = (Class<List<TensorTask.Item>>) (Class<?>) List.class;
      ZooModel<List<TensorTask.Item>, List<TensorTask.Item>> model = Criteria.builder().setTypes(type, type)
          .optEngine("PyTorch").optDevice(Device.cpu()).optModelPath(Path.of(file))
          .optTranslator(new TensorTranslator()).build().loadModel();
      predictor = new TensorPredictor(model, true);
      long[] shape = Arrays.stream(shapeArg.split(",")).mapToLong(Long::parseLong).toArray();
      double[] values = new double[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
      Random random = new Random(7);
      for (int i = 0; i < values.length; i++) {
        values[i] = random.nextDouble() * 16;
      }
      items = List.of(new TensorTask.Item(List.of(Tensor.ofFloats("float32", shape, values)), true));
    }

    public static double[] run(int n) throws Exception {
      com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
      long t = Thread.currentThread().getId();
      long cpu = mx.getThreadCpuTime(t), bytes = mx.getThreadAllocatedBytes(t);
      for (int i = 0; i < n; i++) {
        predictor.predict(items);
      }
      return new double[] {(mx.getThreadCpuTime(t) - cpu) / 1e3 / n, (double) (mx.getThreadAllocatedBytes(t) - bytes) / n};
    }
  }
}
