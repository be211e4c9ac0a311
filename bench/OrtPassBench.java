// CPU of one all-MiniLM-L6-v2 forward pass through DJL's OnnxRuntime engine, alone on one thread, for batch sizes
// and session options (docs/performance.md, "Batching MiniLM"): passes/s and the process's CPU per pass and per item
// (utime + stime of /proc/self/stat, all threads). The variants run interleaved, round after round, in one JVM.
//   mvn -B -o -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt
//   unzip -o -d target/minilm $(tr : '\n' < target/cp.txt | grep all-minilm-l6-v2) all-minilm-l6-v2.onnx \
//     all-minilm-l6-v2-tokenizer.json && mv target/minilm/all-minilm-l6-v2.onnx target/minilm/model.onnx \
//     && mv target/minilm/all-minilm-l6-v2-tokenizer.json target/minilm/tokenizer.json
//   java -Dai.djl.offline=true -cp $(cat target/cp.txt) bench/OrtPassBench.java MODEL_FILE SECONDS TOKENS BATCHES VARIANT...
// BATCHES: comma-separated batch sizes (1,16). VARIANT: a name, then ':' and DJL Criteria options key=value joined by
// '+' (intraOpNumThreads is 1 unless given), e.g. base: opt-all:optLevel=ALL_OPT nomem:memoryPatternOptimization=false
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public class OrtPassBench {
  static long cpuTicks() throws Exception {
    String st = Files.readString(Path.of("/proc/self/stat"));
    String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  public static void main(String[] a) throws Exception {
    Path file = Path.of(a[0]);
    double seconds = Double.parseDouble(a[1]);
    int len = Integer.parseInt(a[2]);
    String[] batches = a[3].split(",");
    List<String> names = new ArrayList<>();
    List<ZooModel<NDList, NDList>> models = new ArrayList<>();
    for (int v = 4; v < a.length; v++) {
      String[] nv = a[v].split(":", 2);
      var builder = Criteria.builder().setTypes(NDList.class, NDList.class).optEngine("OnnxRuntime")
          .optModelPath(file).optTranslator(new NoopTranslator());
      boolean threads = false;
      if (nv.length > 1 && !nv[1].isEmpty()) {
        for (String kv : nv[1].split("\\+")) {
          String[] p = kv.split("=", 2);
          builder.optOption(p[0], p[1]);
          threads |= p[0].equals("intraOpNumThreads");
        }
      }
      if (!threads) {
        builder.optOption("intraOpNumThreads", "1");
      }
      names.add(nv[0]);
      models.add(builder.build().loadModel());
    }
    try (NDManager mgr = NDManager.newBaseManager()) {
      for (int round = 0; round < 3; round++) { // round 0 warms up
        for (String b : batches) {
          int n = Integer.parseInt(b);
          for (int v = 0; v < models.size(); v++) {
            try (Predictor<NDList, NDList> p = models.get(v).newPredictor()) {
              long cpu0 = cpuTicks();
              long wall0 = System.nanoTime();
              int passes = 0;
              while (System.nanoTime() - wall0 < seconds * 1e9) {
                try (NDManager sub = mgr.newSubManager()) {
                  p.predict(inputs(sub, n, len)).get(0).toFloatArray();
                }
                passes++;
              }
              double wall = (System.nanoTime() - wall0) / 1e9;
              double cpuMs = (cpuTicks() - cpu0) * 10.0 / passes; // CLK_TCK 100
              System.out.printf("round %d %-10s batch %2d: %6.1f passes/s, CPU %.2f ms a pass, %.2f ms an item%n",
                  round, names.get(v), n, passes / wall, cpuMs, cpuMs / n);
            }
          }
        }
      }
    }
    models.forEach(ZooModel::close);
  }

  static NDList inputs(NDManager sub, int n, int len) {
    long[] ids = new long[n * len];
    long[] mask = new long[n * len];
    for (int i = 0; i < n * len; i++) {
      ids[i] = i % len == 0 ? 101 : i % len == len - 1 ? 102 : 1000 + i % len;
      mask[i] = 1;
    }
    NDArray x = sub.create(ids, new Shape(n, len));
    x.setName("input_ids");
    NDArray y = sub.create(mask, new Shape(n, len));
    y.setName("attention_mask");
    NDArray z = sub.create(new long[n * len], new Shape(n, len));
    z.setName("token_type_ids");
    return new NDList(x, y, z);
  }
}
