package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelRegistry.Embeddings;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.Metrics.Outcome;
import dev.modelcache.metrics.RevisionMeters;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Runs one inference request on one model for the registry: gives it its deadline ({@code
 * timeout_ms} on the injected nano clock), gets the loaded model, queues the items, waits for the
 * outputs until the deadline, renders the answer, and counts the request by outcome.
 */
final class InferenceRunner {
  private final ModelLoader loader;
  private final Metrics metrics;
  private final RevisionMeters revisionMeters;
  private final ObjectMapper json;
  private final int maxItems;
  private final LongSupplier nanoClock;

  InferenceRunner(
      ModelLoader loader,
      Metrics metrics,
      ObjectMapper json,
      int maxItems,
      LongSupplier nanoClock) {
    this.loader = loader;
    this.metrics = metrics;
    this.revisionMeters = new RevisionMeters(metrics.registry());
    this.json = json;
    this.maxItems = maxItems;
    this.nanoClock = nanoClock;
  }

  /** A {@code POST /inference} request's {@code inputs}; see {@link ModelRegistry#infer}. */
  ObjectNode infer(ModelEntry entry, JsonNode request) {
    return measured(
        entry,
        run -> {
          JsonNode inputs = request.get("inputs");
          if (inputs == null || inputs.isNull()) {
            throw new InvalidInputException(
                "request has no 'inputs': send {\"inputs\": [[...numbers...]]}");
          }
          return answer(run, inputs);
        });
  }

  /**
   * A plain {@code tensor} request read straight from its body ({@link TensorStream}); see {@link
   * ModelRegistry#inferStreamed}. {@code parsedBy} read it; the loaded model's own task checks it.
   */
  TensorAnswer inferStreamed(ModelEntry entry, TensorTask parsedBy, Tensor input) {
    return measured(entry, run -> streamed(run, parsedBy, input));
  }

  @SuppressWarnings("unchecked")
  private <I, O> TensorAnswer streamed(Run<I, O> run, TensorTask parsedBy, Tensor input) {
    TensorTask task = run.model().task() instanceof TensorTask loaded ? loaded : parsedBy;
    List<O> outputs = run.await((List<I>) List.of(task.fit(input)));
    return task.answer(
        run.config().name(), run.model().snapshot().id(), (List<TensorTask.Item>) outputs);
  }

  /** A raw request body; see {@link ModelRegistry#inferRaw}. */
  ObjectNode inferRaw(ModelEntry entry, String contentType, byte[] body) {
    return measured(entry, run -> answerRaw(run, contentType, body));
  }

  /** An Open Inference Protocol request; see {@link ModelRegistry#inferV2}. */
  V2Answer inferV2(ModelEntry entry, List<V2Tensor> inputs) {
    return measured(entry, run -> answerV2(run, inputs));
  }

  /**
   * An Open Inference Protocol JSON body of a {@code tensor} model read straight from its bytes
   * ({@link V2Stream}) and answered as a stream ({@link V2TensorAnswer}); see {@link
   * ModelRegistry#inferV2Streamed}.
   *
   * @param picked the entry that answers, picked only once the body was read (as the tree path
   *     does)
   * @return null when the body is not one the fast path takes, or the model's task is not {@code
   *     tensor}
   */
  @Nullable Object inferV2Streamed(
      ModelEntry entry, Supplier<ModelEntry> picked, String pathName, byte[] body, int length) {
    ModelEntry.Prepared prepared = entry.prepared;
    if (prepared == null || !(prepared.task() instanceof TensorTask task)) {
      return null;
    }
    V2Stream.Request request = V2Stream.parse(body, length, entry.name(), pathName);
    if (request == null) {
      return null;
    }
    V2TensorAnswer.Outputs outputs =
        measured(picked.get(), run -> streamedV2(run, task, request.inputs()));
    // outside the run, as the tree path checks them: an unknown output is a 400 of a served request
    return V2TensorAnswer.of(entry.name(), request.id(), request.outputs(), outputs);
  }

  @SuppressWarnings("unchecked")
  private <I, O> V2TensorAnswer.Outputs streamedV2(
      Run<I, O> run, TensorTask parsedBy, List<V2Stream.Input> inputs) {
    TensorTask task = run.model().task() instanceof TensorTask loaded ? loaded : parsedBy;
    List<O> outputs = run.await((List<I>) List.of(task.fitV2(inputs)));
    return task.outputsV2(run.model().snapshot().id(), (List<TensorTask.Item>) outputs);
  }

  /** Texts to embed; see {@link ModelRegistry#embed}. */
  Embeddings embed(ModelEntry entry, List<String> texts) {
    return measured(entry, run -> embeddings(run, texts));
  }

  @SuppressWarnings("unchecked")
  private <I, O> Embeddings embeddings(Run<I, O> run, List<String> texts) {
    if (!(run.model().task() instanceof Embedder embedder)) {
      throw new InvalidInputException(
          run.config().name()
              + " is a "
              + run.model().task().name()
              + " model; only text-embedding models give embeddings");
    }
    Embedder.Encoded encoded = embedder.encode(texts);
    List<O> vectors = run.await((List<I>) encoded.items());
    return new Embeddings(run.model().snapshot().id(), (List<float[]>) vectors, encoded.tokens());
  }

  private <I, O> ObjectNode answerRaw(Run<I, O> run, String contentType, byte[] body) {
    Task<I, O> task = run.model().task();
    if (!(task instanceof RawBodyTask<?> raw) || !raw.acceptsRaw(contentType)) {
      throw new InvalidInputException(
          run.config().name()
              + " ("
              + task.name()
              + ") takes no '"
              + contentType
              + "' body; send application/json");
    }
    @SuppressWarnings("unchecked")
    List<I> items = (List<I>) raw.parseRaw(body);
    return render(run, run.await(items));
  }

  private <I, O> ObjectNode answer(Run<I, O> run, JsonNode inputs) {
    Task<I, O> task = run.model().task();
    return render(run, run.await(task.parse(inputs)));
  }

  private <I, O> ObjectNode render(Run<I, O> run, List<O> outputs) {
    Task<I, O> task = run.model().task();
    ObjectNode answer = json.createObjectNode();
    answer.put("model", run.config().name());
    answer.put("revision", run.model().snapshot().id());
    if (task instanceof AnswerRenderer<?>) {
      @SuppressWarnings("unchecked")
      AnswerRenderer<O> renderer = (AnswerRenderer<O>) task;
      renderer.renderAnswer(outputs, answer);
    } else {
      answer.set("outputs", task.render(outputs));
    }
    return answer;
  }

  private <I, O> V2Answer answerV2(Run<I, O> run, List<V2Tensor> inputs) {
    Task<I, O> task = run.model().task();
    List<O> outputs = run.await(task.parseV2(inputs));
    return new V2Answer(run.model().snapshot().id(), task.renderV2(outputs));
  }

  /**
   * One request on one loaded model, with its deadline; counted as arriving at the model ({@link
   * Batcher#arriving}) from its pick until its items are submitted or it fails.
   */
  private record Run<I, O>(
      ModelConfig config,
      LoadedModel<I, O> model,
      long deadline,
      int maxItems,
      LongSupplier nanoClock,
      AtomicBoolean arrival) {
    /** No longer arriving: submitted, or failed before. */
    void arrived() {
      if (arrival.compareAndSet(true, false)) {
        model.arriving(-1);
      }
    }

    List<O> await(List<I> items) {
      if (items.isEmpty()) {
        throw new InvalidInputException("the request has no inputs to run");
      }
      if (items.size() > maxItems) {
        throw new TooManyItemsException(
            config.name()
                + " - the request holds "
                + items.size()
                + " items, more than server.limits.max_items ("
                + maxItems
                + "); send them in requests of at most "
                + maxItems
                + " items");
      }
      CompletableFuture<List<O>> result;
      try {
        result = model.submit(items, deadline);
      } finally {
        arrived(); // queued (or refused) first: a worker that sees none arriving sees it queued
      }
      return InferenceRunner.await(config, result, deadline, nanoClock);
    }
  }

  private <T> T measured(ModelEntry entry, Function<Run<?, ?>, T> body) {
    long start = nanoClock.getAsLong();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(entry.config.timeoutMs());
    Outcome outcome = Outcome.ERROR;
    Run<?, ?> run = null;
    try {
      run = run(entry, deadline);
      T answer = body.apply(run);
      outcome = Outcome.SUCCESS;
      return answer;
    } catch (InvalidInputException e) {
      outcome = Outcome.BAD_REQUEST;
      throw e;
    } catch (TooManyItemsException e) {
      outcome = Outcome.BAD_REQUEST;
      metrics.rejected(Metrics.Rejection.ITEMS);
      throw e;
    } catch (ModelNotReadyException e) {
      outcome = Outcome.NOT_READY;
      throw e;
    } catch (QueueFullException e) {
      outcome = Outcome.QUEUE_FULL;
      throw e;
    } catch (InferenceTimeoutException e) {
      outcome = Outcome.TIMEOUT;
      throw e;
    } catch (UnknownModelException e) {
      outcome = null; // removed by a reload as the request came: a 404, and no meters of it again
      throw e;
    } finally {
      if (run != null) {
        run.arrived();
        run.model().release(); // picked once, in loadedOrLoad; a swap drains it
      }
      if (outcome != null) {
        metrics.inference(entry.name(), outcome, nanoClock.getAsLong() - start);
        ModelEntry.Prepared prepared = entry.prepared;
        if (prepared != null) {
          String revision = run != null ? run.model().snapshot().id() : prepared.snapshot().id();
          revisionMeters.request(entry.name(), revision, outcome);
        }
      }
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private Run<?, ?> run(ModelEntry entry, long deadline) {
    LoadedModel<?, ?> model = loader.loadedOrLoad(entry, deadline);
    model.arriving(1);
    return new Run(entry.config, model, deadline, maxItems, nanoClock, new AtomicBoolean(true));
  }

  private static <O> List<O> await(
      ModelConfig config, CompletableFuture<List<O>> result, long deadline, LongSupplier clock) {
    try {
      return result.get(Math.max(0, deadline - clock.getAsLong()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException | CancellationException e) { // cancelled: an inline pass ran late
      result.cancel(false);
      throw new InferenceTimeoutException(
          config.name()
              + " - no answer within timeout_ms ("
              + config.timeoutMs()
              + " ms); retry later or with fewer inputs, or raise the model's timeout_ms or"
              + " workers");
    } catch (InterruptedException e) {
      result.cancel(false);
      Thread.currentThread().interrupt();
      throw new ModelNotReadyException(config.name() + " - interrupted while waiting", e);
    } catch (ExecutionException e) {
      throw failure(config, Objects.requireNonNull(e.getCause(), "a failed task has a cause"));
    }
  }

  /**
   * What a failed forward pass throws: our own exceptions as they are, anything else wrapped with
   * the model's name (the HTTP layer's {@code ErrorMapping} tells a bad input from an engine
   * failure by the cause).
   */
  private static RuntimeException failure(ModelConfig config, Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof InvalidInputException invalid) {
        return invalid;
      }
      if (t instanceof ModelNotReadyException notReady) {
        return notReady;
      }
    }
    return new InferenceFailedException(config.name(), cause);
  }
}
