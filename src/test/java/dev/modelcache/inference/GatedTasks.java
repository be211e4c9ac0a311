package dev.modelcache.inference;

import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The real tasks, with a gate in front of the forward pass of chosen models: while a model's gate
 * is shut, each forward pass waits there (at most a minute), so that tests can hold the workers
 * busy and fill the queue deterministically, without sleeps.
 */
public final class GatedTasks implements TaskFactory {
  private final TaskFactory real;
  private final Map<String, Gate> gates = new ConcurrentHashMap<>();

  public GatedTasks(TaskFactory real, List<String> gatedModels) {
    this.real = real;
    gatedModels.forEach(m -> gates.put(m, new Gate()));
  }

  public Gate gate(String model) {
    return gates.get(model);
  }

  @Override
  public Task<?, ?> create(ModelConfig model, Path snapshotDir) throws ModelLoadException {
    Task<?, ?> task = real.create(model, snapshotDir);
    Gate gate = gates.get(model.name());
    return gate == null ? task : wrap(task, gate);
  }

  private static <I, O> Task<I, O> wrap(Task<I, O> task, Gate gate) {
    return new Gated<>(task, gate);
  }

  /** Open at first; {@link #shut()} holds every later forward pass until {@link #open()}. */
  public static final class Gate {
    private volatile CountDownLatch latch = new CountDownLatch(0);
    private final Semaphore held = new Semaphore(0);

    public void shut() {
      latch = new CountDownLatch(1);
      held.drainPermits();
    }

    public void open() {
      latch.countDown();
    }

    /** Waits until a forward pass is held at the shut gate. */
    public void awaitHeld(Duration timeout) throws InterruptedException {
      if (!held.tryAcquire(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("no forward pass reached the gate within " + timeout);
      }
    }

    void pass() {
      CountDownLatch current = latch;
      if (current.getCount() > 0) {
        held.release();
      }
      try {
        if (!current.await(1, TimeUnit.MINUTES)) {
          throw new IllegalStateException("the test never opened the gate");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted at the gate", e);
      }
    }
  }

  private record Gated<I, O>(Task<I, O> task, Gate gate)
      implements Task<I, O>, BatchKeyed<I>, AnswerRenderer<O> {
    @Override
    public String name() {
      return task.name();
    }

    @Override
    public Translator<List<I>, List<O>> translator() {
      Translator<List<I>, List<O>> inner = task.translator();
      return new NoBatchifyTranslator<>() {
        @Override
        public void prepare(TranslatorContext ctx) throws Exception {
          inner.prepare(ctx);
        }

        @Override
        public NDList processInput(TranslatorContext ctx, List<I> input) throws Exception {
          gate.pass();
          return inner.processInput(ctx, input);
        }

        @Override
        public List<O> processOutput(TranslatorContext ctx, NDList list) throws Exception {
          return inner.processOutput(ctx, list);
        }
      };
    }

    @Override
    public List<I> parse(JsonNode inputs) {
      return task.parse(inputs);
    }

    @Override
    public JsonNode render(List<O> outputs) {
      return task.render(outputs);
    }

    @Override
    public List<I> parseV2(List<V2Tensor> inputs) {
      return task.parseV2(inputs);
    }

    @Override
    public List<V2Tensor> renderV2(List<O> outputs) {
      return task.renderV2(outputs);
    }

    @Override
    public List<V2Tensor.Spec> inputSpecs() {
      return task.inputSpecs();
    }

    @Override
    public List<V2Tensor.Spec> outputSpecs() {
      return task.outputSpecs();
    }

    @Override
    public I warmupItem() {
      return task.warmupItem();
    }

    @Override
    @SuppressWarnings("unchecked")
    public Object batchKey(I item) {
      return task instanceof BatchKeyed<?> keyed ? ((BatchKeyed<I>) keyed).batchKey(item) : "";
    }

    @Override
    @SuppressWarnings("unchecked")
    public void renderAnswer(List<O> outputs, ObjectNode answer) {
      if (task instanceof AnswerRenderer<?> renderer) {
        ((AnswerRenderer<O>) renderer).renderAnswer(outputs, answer);
      } else {
        answer.set("outputs", task.render(outputs));
      }
    }
  }
}
