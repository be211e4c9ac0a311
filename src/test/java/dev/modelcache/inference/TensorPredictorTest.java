package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import dev.modelcache.TestModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TensorPredictor} answers as DJL's predictor with the same translator does, on the iris
 * TorchScript model (4 float32 in, 3 out): the same numbers for every input, batch and shape, the
 * same failure for a bad shape, nothing left in its manager between passes, and no values crossed
 * between two predictors that run at once.
 */
class TensorPredictorTest {
  @TempDir static Path tmp;
  private static ZooModel<List<TensorTask.Item>, List<TensorTask.Item>> iris;
  private static Predictor<List<TensorTask.Item>, List<TensorTask.Item>> djl;

  @BeforeAll
  @SuppressWarnings("unchecked")
  static void load() throws Exception {
    Class<List<TensorTask.Item>> type = (Class<List<TensorTask.Item>>) (Class<?>) List.class;
    iris =
        Criteria.builder()
            .setTypes(type, type)
            .optEngine("PyTorch")
            .optDevice(Device.cpu())
            .optModelPath(TestModels.copy("iris", tmp.resolve("iris")).resolve("model.pt"))
            .optTranslator(new TensorTranslator())
            .build()
            .loadModel();
    djl = iris.newPredictor();
  }

  @AfterAll
  static void close() {
    djl.close();
    iris.close();
  }

  private static TensorTask.Item item(int rows, Random random) {
    double[] values = new double[rows * 4];
    for (int i = 0; i < values.length; i++) {
      values[i] = Math.round(random.nextDouble() * 80) / 10.0;
    }
    return new TensorTask.Item(
        List.of(Tensor.ofFloats("float32", new long[] {rows, 4}, values)), false);
  }

  @Test
  void answersAsDjlsPredictorForEveryInputBatchAndShape() throws Exception {
    Random random = new Random(18);
    for (boolean reuse : new boolean[] {true, false}) {
      try (TensorPredictor lean = new TensorPredictor(iris, reuse)) {
        for (int pass = 0; pass < 300; pass++) {
          List<TensorTask.Item> items = new ArrayList<>();
          int count = pass % 7 == 0 ? 1 + random.nextInt(4) : 1; // lone items, some batches
          for (int i = 0; i < count; i++) {
            items.add(item(1 + random.nextInt(pass % 5 == 0 ? 3 : 1), random));
          }
          assertThat(lean.predict(items))
              .as("pass %d, reuse %s", pass, reuse)
              .isEqualTo(djl.predict(items));
        }
      }
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void answersAsDjlsPredictorForFiveInputsOfFiveDtypesAndATupleOfSixOutputs() throws Exception {
    Class<List<TensorTask.Item>> type = (Class<List<TensorTask.Item>>) (Class<?>) List.class;
    Random random = new Random(5);
    try (ZooModel<List<TensorTask.Item>, List<TensorTask.Item>> dtypes =
            Criteria.builder()
                .setTypes(type, type)
                .optEngine("PyTorch")
                .optDevice(Device.cpu())
                .optModelPath(TestModels.copy("dtypes", tmp.resolve("dtypes")).resolve("model.pt"))
                .optTranslator(new TensorTranslator())
                .build()
                .loadModel();
        Predictor<List<TensorTask.Item>, List<TensorTask.Item>> reference = dtypes.newPredictor()) {
      for (boolean reuse : new boolean[] {true, false}) {
        try (TensorPredictor lean = new TensorPredictor(dtypes, reuse)) {
          for (int pass = 0; pass < 100; pass++) {
            List<TensorTask.Item> items = List.of(dtypesItem(1 + pass % 3, random));
            List<TensorTask.Item> answer = lean.predict(items);
            assertThat(answer.get(0).tensors()).hasSize(6);
            assertThat(answer)
                .as("pass %d, reuse %s", pass, reuse)
                .isEqualTo(reference.predict(items));
            assertThat(lean.arrays()).as("arrays after pass %d", pass).isEqualTo(reuse ? 5 : 0);
          }
        }
      }
    }
  }

  private static TensorTask.Item dtypesItem(int rows, Random random) {
    long[] shape = {rows, 2};
    double[] f32 = new double[rows * 2];
    double[] f64 = new double[rows * 2];
    long[] i32 = new long[rows * 2];
    long[] i64 = new long[rows * 2];
    boolean[] b = new boolean[rows * 2];
    for (int i = 0; i < rows * 2; i++) {
      f32[i] = random.nextInt(1000) / 8.0;
      f64[i] = random.nextGaussian() * 1e6;
      i32[i] = random.nextInt(1 << 20) - (1 << 19);
      i64[i] = random.nextLong() >> 4;
      b[i] = random.nextBoolean();
    }
    return new TensorTask.Item(
        List.of(
            Tensor.ofFloats("float32", shape, f32),
            Tensor.ofFloats("float64", shape, f64),
            Tensor.ofInts("int32", shape, i32),
            Tensor.ofInts("int64", shape, i64),
            Tensor.ofBools(shape, b)),
        false);
  }

  @Test
  void leavesOnlyItsKeptInputAfterEachOfAThousandPasses() throws Exception {
    Random random = new Random(7);
    try (TensorPredictor lean = new TensorPredictor(iris, true)) {
      for (int pass = 0; pass < 1000; pass++) {
        lean.predict(List.of(item(1 + pass % 3, random)));
        assertThat(lean.arrays()).as("arrays after pass %d", pass).isEqualTo(1);
      }
    }
    try (TensorPredictor lean = new TensorPredictor(iris, false)) {
      for (int pass = 0; pass < 100; pass++) {
        lean.predict(List.of(item(1, random)));
        assertThat(lean.arrays()).as("arrays after pass %d, no reuse", pass).isZero();
      }
    }
  }

  @Test
  void aFailedPassFailsAsDjlsAndLeavesNothingBehind() throws Exception {
    TensorTask.Item wide = // 5 features where the model's first layer takes 4
        new TensorTask.Item(
            List.of(Tensor.ofFloats("float32", new long[] {1, 5}, new double[5])), false);
    Random random = new Random(3);
    try (TensorPredictor lean = new TensorPredictor(iris, true)) {
      lean.predict(List.of(item(1, random)));
      assertThatThrownBy(() -> djl.predict(List.of(wide))).isInstanceOf(TranslateException.class);
      assertThatThrownBy(() -> lean.predict(List.of(wide))).isInstanceOf(TranslateException.class);
      assertThat(lean.arrays()).isEqualTo(1); // the wide input, kept in its slot
      TensorTask.Item again = item(1, random);
      assertThat(lean.predict(List.of(again))).isEqualTo(djl.predict(List.of(again)));
      assertThat(lean.arrays()).isEqualTo(1);
    }
  }

  @Test
  void twoPredictorsAtOnceGiveEachItsOwnAnswers() throws Exception {
    int passes = 2000;
    List<List<TensorTask.Item>> inputs = new ArrayList<>();
    List<List<TensorTask.Item>> expected = new ArrayList<>();
    Random random = new Random(11);
    for (int i = 0; i < passes; i++) {
      List<TensorTask.Item> items = List.of(item(1, random));
      inputs.add(items);
      expected.add(djl.predict(items));
    }
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (TensorPredictor a = new TensorPredictor(iris, true);
        TensorPredictor b = new TensorPredictor(iris, true)) {
      List<Callable<Integer>> workers = new ArrayList<>();
      for (int w = 0; w < 2; w++) {
        TensorPredictor mine = w == 0 ? a : b;
        int offset = w;
        workers.add(
            () -> {
              int checked = 0;
              for (int i = offset; i < passes; i += 2) {
                assertThat(mine.predict(inputs.get(i))).as("pass %d", i).isEqualTo(expected.get(i));
                checked++;
              }
              return checked;
            });
      }
      int checked = 0;
      for (Future<Integer> done : pool.invokeAll(workers, 2, TimeUnit.MINUTES)) {
        checked += done.get();
      }
      assertThat(checked).isEqualTo(passes);
    } finally {
      pool.shutdownNow();
    }
  }
}
