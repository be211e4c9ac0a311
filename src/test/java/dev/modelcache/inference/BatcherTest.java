package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.nn.LambdaBlock;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.FakeClock;
import dev.modelcache.Poll;
import dev.modelcache.metrics.Metrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Batcher} on its own, over a real DJL model (an identity block) and a trivial task that
 * doubles whole numbers; the task records the size of every forward pass and can hold passes at a
 * gate, so that the queue fills deterministically.
 */
class BatcherTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final Model model = identityModel();
  private final Doubling task = new Doubling();
  private final AtomicInteger depth = new AtomicInteger();
  private Batcher<Integer, Integer> batcher;

  private static Model identityModel() {
    Model model = Model.newInstance("doubling", "PyTorch");
    model.setBlock(new LambdaBlock(list -> list));
    return model;
  }

  private Batcher<Integer, Integer> start(int workers, int maxItems, int capacity) {
    return start(workers, maxItems, capacity, System::nanoTime);
  }

  private Batcher<Integer, Integer> start(
      int workers, int maxItems, int capacity, LongSupplier nanoClock) {
    return start(workers, maxItems, capacity, Duration.ZERO, nanoClock);
  }

  private Batcher<Integer, Integer> start(
      int workers, int maxItems, int capacity, Duration maxDelay, LongSupplier nanoClock) {
    List<Predictor<List<Integer>, List<Integer>>> predictors = new ArrayList<>();
    for (int i = 0; i < workers; i++) {
      predictors.add(model.newPredictor(task.translator()));
    }
    batcher =
        new Batcher<>(
            "doubling",
            task,
            predictors,
            maxItems,
            maxDelay,
            capacity,
            depth,
            new Metrics(new SimpleMeterRegistry()),
            nanoClock);
    return batcher;
  }

  @AfterEach
  void close() {
    task.gate.open();
    if (batcher != null) {
      batcher.close();
    }
    model.close();
  }

  private static long far() {
    return System.nanoTime() + WAIT.toNanos();
  }

  private static List<Integer> get(CompletableFuture<List<Integer>> result) throws Exception {
    return result.get(WAIT.toSeconds(), TimeUnit.SECONDS);
  }

  @Test
  void answersEachRequestWithItsOwnOutputsInOrder() throws Exception {
    start(1, 8, 4);
    assertThat(get(batcher.submit(List.of(1, 2, 3), far()))).containsExactly(2, 4, 6);
    assertThat(get(batcher.submit(List.of(5), far()))).containsExactly(10);
  }

  /**
   * A close that interrupts a forward pass (here the worker waits, interruptibly, at the gate)
   * fails the request as "shutting down" (503 with Retry-After), not with what the interrupted pass
   * threw, which the HTTP layer answered 500: the 500 GracefulShutdownTest saw once after SIGTERM.
   */
  @Test
  void aPassCutByTheCloseFailsItsRequestsAsShuttingDown() throws Exception {
    start(1, 8, 8);
    task.gate.shut();
    CompletableFuture<List<Integer>> held = batcher.submit(List.of(1), far());
    task.gate.awaitHeld(WAIT);
    batcher.close();
    assertThatThrownBy(() -> get(held))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(ModelNotReadyException.class)
        .hasMessage("doubling is shutting down");
    assertThatThrownBy(() -> batcher.submit(List.of(2), far()))
        .isInstanceOf(ModelNotReadyException.class);
  }

  /**
   * A second stop finds the predictors closed and returns at once, telling that nothing runs: it
   * waited 10 s for the permits the first stop had taken, and said a pass still ran ({@code
   * LoadedModel} closes its batcher once; a test's clean-up after a test's own stop did not).
   */
  @Test
  void aSecondStopSaysAtOnceThatNothingRuns() throws Exception {
    start(1, 8, 8);
    assertThat(get(batcher.submit(List.of(1), far()))).containsExactly(2);
    assertThat(batcher.stop()).isTrue();
    assertThat(batcher.stop()).as("the second stop").isTrue();
  }

  /**
   * Requests a worker took off the queue while it gathered a batch (waiting {@code max_delay_ms}
   * for more) are failed by a close that interrupts the wait, instead of waiting for their timeout.
   */
  @Test
  void requestsGatheredWhenTheCloseComesFailAsShuttingDownAtOnce() throws Exception {
    start(1, 64, 8, Duration.ofSeconds(20), System::nanoTime);
    task.gate.shut();
    CompletableFuture<List<Integer>> first = batcher.submit(List.of(1), far());
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> a = batcher.submit(List.of(2), far());
    CompletableFuture<List<Integer>> b = batcher.submit(List.of(3), far());
    task.gate.open();
    assertThat(get(first)).containsExactly(2);
    // both taken: the worker now waits up to 20 s for a third request to share the pass
    Poll.until(WAIT, Duration.ofMillis(10), "a and b gathered", () -> depth.get() == 0);
    batcher.close();
    for (CompletableFuture<List<Integer>> gathered : List.of(a, b)) {
      assertThatThrownBy(() -> gathered.get(5, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(ModelNotReadyException.class);
    }
  }

  @Test
  void requestsQueuedTogetherShareOneForwardPass() throws Exception {
    start(1, 8, 8);
    task.gate.shut();
    CompletableFuture<List<Integer>> first = batcher.submit(List.of(1), far());
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> a = batcher.submit(List.of(2), far());
    CompletableFuture<List<Integer>> b = batcher.submit(List.of(3, 4), far());
    CompletableFuture<List<Integer>> c = batcher.submit(List.of(5), far());
    task.gate.open();

    assertThat(get(first)).containsExactly(2);
    assertThat(get(a)).containsExactly(4);
    assertThat(get(b)).containsExactly(6, 8);
    assertThat(get(c)).containsExactly(10);
    assertThat(task.passes()).containsExactly(1, 4);
    assertThat(depth).hasValue(0);
  }

  @Test
  void aLoneRequestRunsAtOnceInsteadOfWaitingOutTheDelay() throws Exception {
    FakeClock clock = new FakeClock(); // frozen: a wait for the delay would last a real hour
    start(2, 8, 8, Duration.ofHours(1), clock::nanoTime); // the other predictor idle: no company
    long hour = Duration.ofHours(1).toNanos();
    for (int i = 1; i <= 3; i++) {
      assertThat(get(batcher.submit(List.of(i), clock.nanoTime() + 2 * hour)))
          .containsExactly(2 * i);
    }
    assertThat(task.passes()).containsExactly(1, 1, 1);
  }

  @Test
  void requestsQueuedBehindABusyWorkerStillWaitForCompanyAndShareAPass() throws Exception {
    FakeClock clock = new FakeClock();
    start(1, 4, 8, Duration.ofHours(1), clock::nanoTime);
    long far = clock.nanoTime() + Duration.ofHours(2).toNanos();
    task.gate.shut();
    CompletableFuture<List<Integer>> first = batcher.submit(List.of(1), far); // alone: at once
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> a = batcher.submit(List.of(2), far);
    CompletableFuture<List<Integer>> b = batcher.submit(List.of(3), far);
    task.gate.open();
    assertThat(get(first)).containsExactly(2);
    // a found b queued: the worker waits (for up to the hour) for more, and c joins the pass
    CompletableFuture<List<Integer>> c = batcher.submit(List.of(4, 5), far);

    assertThat(get(a)).containsExactly(4);
    assertThat(get(b)).containsExactly(6);
    assertThat(get(c)).containsExactly(8, 10);
    assertThat(task.passes()).containsExactly(1, 4);
    assertThat(depth).hasValue(0);
  }

  @Test
  void aLoneRequestWaitsForARequestThatIsBeingReadAlready() throws Exception {
    FakeClock clock = new FakeClock(); // frozen: the worker waits until its pass is full
    start(1, 2, 8, Duration.ofHours(1), clock::nanoTime);
    long far = clock.nanoTime() + Duration.ofHours(2).toNanos();
    batcher.arriving(1); // a, being parsed
    batcher.arriving(1); // b, being parsed on another caller's thread
    CompletableFuture<List<Integer>> a = batcher.submit(List.of(2), far);
    batcher.arriving(-1);
    Poll.until(WAIT, Duration.ofMillis(10), "a taken", () -> depth.get() == 0);
    // the queue was empty when the worker took a, but b was on its way (the next request of a
    // client that the last pass answered): the worker waits for it, and both share one pass
    CompletableFuture<List<Integer>> b = batcher.submit(List.of(3), far);
    batcher.arriving(-1);

    assertThat(get(a)).containsExactly(4);
    assertThat(get(b)).containsExactly(6);
    assertThat(task.passes()).containsExactly(2);
    assertThat(depth).hasValue(0);
  }

  @Test
  void noPassHoldsMoreThanMaxItems() throws Exception {
    start(1, 2, 4);
    assertThat(get(batcher.submit(List.of(1, 2, 3, 4, 5), far()))).containsExactly(2, 4, 6, 8, 10);
    assertThat(task.passes()).containsExactly(2, 2, 1);
  }

  @Test
  void aFullQueueIsRefusedAtOnce() throws Exception {
    start(1, 1, 1);
    task.gate.shut();
    CompletableFuture<List<Integer>> running = batcher.submit(List.of(1), far());
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> waiting = batcher.submit(List.of(2), far());

    assertThatThrownBy(() -> batcher.submit(List.of(3), far()))
        .isInstanceOf(QueueFullException.class)
        .hasMessage(
            "doubling - the queue is full (1 requests waiting for 1 worker(s)); retry shortly,"
                + " or raise the model's queue or workers");
    task.gate.open();
    assertThat(get(running)).containsExactly(2);
    assertThat(get(waiting)).containsExactly(4);
  }

  @Test
  void aFailedBatchRunsEachRequestAloneSoThatOnlyTheBadOneFails() throws Exception {
    start(1, 8, 8);
    task.gate.shut();
    CompletableFuture<List<Integer>> first = batcher.submit(List.of(1), far());
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> good = batcher.submit(List.of(2), far());
    CompletableFuture<List<Integer>> bad = batcher.submit(List.of(-1), far());
    CompletableFuture<List<Integer>> other = batcher.submit(List.of(3), far());
    task.gate.open();

    assertThat(get(first)).containsExactly(2);
    assertThat(get(good)).containsExactly(4);
    assertThat(get(other)).containsExactly(6);
    assertThatThrownBy(() -> get(bad))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .hasRootCauseInstanceOf(IllegalArgumentException.class)
        .hasRootCauseMessage("-1 cannot be doubled");
    assertThat(task.passes()).containsExactly(1, 3, 1, 1, 1);
  }

  @Test
  void aRequestPastItsDeadlineIsNeverRun() throws Exception {
    start(1, 8, 8);
    task.gate.shut();
    CompletableFuture<List<Integer>> first = batcher.submit(List.of(1), far());
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> late = batcher.submit(List.of(7), System.nanoTime());
    CompletableFuture<List<Integer>> next = batcher.submit(List.of(2), far());
    task.gate.open();

    assertThat(get(first)).containsExactly(2);
    assertThat(get(next)).containsExactly(4);
    assertThat(late).isNotDone();
    assertThat(task.items()).containsExactly(1, 2);
  }

  @Test
  void aRequestIsDroppedOnceTheInjectedClockPassesItsDeadlineWithoutRealWaiting() throws Exception {
    FakeClock clock = new FakeClock();
    start(1, 8, 8, clock::nanoTime);
    long hour = Duration.ofHours(1).toNanos();
    task.gate.shut();
    CompletableFuture<List<Integer>> first = batcher.submit(List.of(1), clock.nanoTime() + hour);
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> expiring =
        batcher.submit(List.of(7), clock.nanoTime() + Duration.ofMillis(300).toNanos());
    CompletableFuture<List<Integer>> next = batcher.submit(List.of(2), clock.nanoTime() + hour);
    clock.advance(Duration.ofMillis(300)); // the deadline passes in no real time
    task.gate.open();

    assertThat(get(first)).containsExactly(2);
    assertThat(get(next)).containsExactly(4);
    assertThat(expiring).isNotDone();
    assertThat(task.items()).containsExactly(1, 2);
  }

  @Test
  void closeFailsWhatWaitedAndRefusesMore() throws Exception {
    start(1, 1, 4);
    task.gate.shut();
    batcher.submit(List.of(1), far()); // held at the gate until close interrupts it
    task.gate.awaitHeld(WAIT);
    CompletableFuture<List<Integer>> waiting = batcher.submit(List.of(2), far());

    batcher.close();

    assertThatThrownBy(() -> get(waiting))
        .cause()
        .isInstanceOf(ModelNotReadyException.class)
        .hasMessage("doubling is shutting down");
    assertThatThrownBy(() -> batcher.submit(List.of(3), far()))
        .isInstanceOf(ModelNotReadyException.class)
        .hasMessage("doubling is shutting down");
    assertThat(depth).hasValue(0);
  }

  @Test
  void aSmallModelsRequestRunsOnTheCallersThreadWhenNothingIsQueued() throws Exception {
    FakeClock clock = new FakeClock(); // frozen: every pass takes no time, the model is small
    start(2, 8, 8, Duration.ofHours(1), clock::nanoTime);
    long far = clock.nanoTime() + Duration.ofHours(2).toNanos();
    assertThat(get(batcher.submit(List.of(1), far))).containsExactly(2); // no pass timed yet
    CompletableFuture<List<Integer>> inline = batcher.submit(List.of(2, 3), far);

    assertThat(inline).isCompletedWithValue(List.of(4, 6)); // done before submit returned
    assertThat(task.threads().get(0)).startsWith("modelcache-doubling-worker-");
    assertThat(task.threads().get(1)).isEqualTo(Thread.currentThread().getName());
    assertThat(depth).hasValue(0);
  }

  @Test
  void inlinePassesAndWorkersNeverRunMorePassesThanWorkers() throws Exception {
    FakeClock clock = new FakeClock();
    start(1, 8, 8, clock::nanoTime);
    long far = clock.nanoTime() + Duration.ofHours(2).toNanos();
    assertThat(get(batcher.submit(List.of(1), far))).containsExactly(2);
    task.gate.shut();
    Thread caller = new Thread(() -> batcher.submit(List.of(2), far), "inline-caller");
    caller.start();
    task.gate.awaitHeld(WAIT); // the caller's inline pass holds the only predictor
    CompletableFuture<List<Integer>> queued = batcher.submit(List.of(3), far);
    // the worker takes it from the queue, then waits for the predictor the inline pass holds
    Poll.until(
        WAIT,
        Duration.ofMillis(10),
        "the worker waiting for a predictor",
        () -> waitsForAPredictor("modelcache-doubling-worker-0"));
    assertThat(queued).isNotDone();
    assertThat(task.passes()).containsExactly(1); // the held inline pass is not counted yet
    task.gate.open();
    caller.join(WAIT.toMillis());

    assertThat(get(queued)).containsExactly(6);
    assertThat(task.threads().subList(1, 3))
        .containsExactly("inline-caller", "modelcache-doubling-worker-0");
    assertThat(task.passes()).containsExactly(1, 1, 1);
  }

  @Test
  void anInlinePassThatEndsPastTheDeadlineIsCancelledLikeATimedOutRequest() throws Exception {
    FakeClock clock = new FakeClock();
    start(1, 8, 8, clock::nanoTime);
    assertThat(get(batcher.submit(List.of(1), clock.nanoTime() + WAIT.toNanos()))).hasSize(1);
    task.gate.shut();
    CompletableFuture<CompletableFuture<List<Integer>>> late =
        CompletableFuture.supplyAsync(
            () -> batcher.submit(List.of(2), clock.nanoTime() + Duration.ofMillis(300).toNanos()));
    task.gate.awaitHeld(WAIT);
    clock.advance(Duration.ofSeconds(1)); // the deadline passes during the pass
    task.gate.open();

    assertThat(late.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isCancelled();
    // that pass took a second: the model is no longer small, the next request goes to the worker
    assertThat(get(batcher.submit(List.of(3), clock.nanoTime() + WAIT.toNanos())))
        .containsExactly(6);
    assertThat(task.threads().get(2)).startsWith("modelcache-doubling-worker-");
  }

  private static boolean waitsForAPredictor(String thread) {
    return Thread.getAllStackTraces().entrySet().stream()
        .anyMatch(
            e ->
                e.getKey().getName().equals(thread)
                    && Arrays.stream(e.getValue())
                        .anyMatch(
                            f ->
                                f.getMethodName().equals("take")
                                    && f.getClassName().endsWith("PredictorPool")));
  }

  /** Doubles whole numbers; -1 is a bad input; each pass's size and items are recorded. */
  private static final class Doubling implements Task<Integer, Integer> {
    final GatedTasks.Gate gate = new GatedTasks.Gate();
    private final List<Integer> passes = Collections.synchronizedList(new ArrayList<>());
    private final List<Integer> items = Collections.synchronizedList(new ArrayList<>());
    private final List<String> threads = Collections.synchronizedList(new ArrayList<>());

    /** The thread of each pass. */
    List<String> threads() {
      return List.copyOf(threads);
    }

    List<Integer> passes() {
      return List.copyOf(passes);
    }

    List<Integer> items() {
      return List.copyOf(items);
    }

    @Override
    public String name() {
      return "doubling";
    }

    @Override
    public Translator<List<Integer>, List<Integer>> translator() {
      return new NoBatchifyTranslator<>() {
        @Override
        public NDList processInput(TranslatorContext ctx, List<Integer> input) {
          gate.pass();
          threads.add(Thread.currentThread().getName());
          passes.add(input.size());
          items.addAll(input);
          if (input.contains(-1)) {
            throw new IllegalArgumentException("-1 cannot be doubled");
          }
          int[] values = input.stream().mapToInt(Integer::intValue).toArray();
          return new NDList(ctx.getNDManager().create(values));
        }

        @Override
        public List<Integer> processOutput(TranslatorContext ctx, NDList list) {
          List<Integer> out = new ArrayList<>();
          for (int value : list.singletonOrThrow().toIntArray()) {
            out.add(value * 2);
          }
          return out;
        }
      };
    }

    @Override
    public List<Integer> parse(JsonNode inputs) {
      throw new UnsupportedOperationException();
    }

    @Override
    public JsonNode render(List<Integer> outputs) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<Integer> parseV2(List<V2Tensor> inputs) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<V2Tensor> renderV2(List<Integer> outputs) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<V2Tensor.Spec> inputSpecs() {
      return List.of();
    }

    @Override
    public List<V2Tensor.Spec> outputSpecs() {
      return List.of();
    }

    @Override
    public Integer warmupItem() {
      return 0;
    }
  }
}
