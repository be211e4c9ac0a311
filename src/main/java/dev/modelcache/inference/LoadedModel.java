package dev.modelcache.inference;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import dev.modelcache.store.InstalledSnapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One model loaded in its engine: the weights once, and one {@link Predictor} per worker (a
 * predictor is not thread-safe), handed out from a pool.
 */
final class LoadedModel implements AutoCloseable {
  private final String name;
  private final ZooModel<List<Tensor>, List<Tensor>> model;
  private final BlockingQueue<Predictor<List<Tensor>, List<Tensor>>> idle;
  private final AtomicInteger queueDepth;
  private final List<Predictor<List<Tensor>, List<Tensor>>> all = new ArrayList<>();
  private final ModelMetadata metadata;
  private final InstalledSnapshot snapshot;
  private final String modelFile;
  private final Duration loadTime;

  LoadedModel(
      String name,
      ZooModel<List<Tensor>, List<Tensor>> model,
      int workers,
      ModelMetadata metadata,
      InstalledSnapshot snapshot,
      String modelFile,
      Duration loadTime,
      AtomicInteger queueDepth) {
    this.queueDepth = queueDepth;
    this.name = name;
    this.model = model;
    this.idle = new ArrayBlockingQueue<>(workers);
    for (int i = 0; i < workers; i++) {
      Predictor<List<Tensor>, List<Tensor>> predictor = model.newPredictor();
      all.add(predictor);
      idle.add(predictor);
    }
    this.metadata = metadata;
    this.snapshot = snapshot;
    this.modelFile = modelFile;
    this.loadTime = loadTime;
  }

  List<Tensor> predict(List<Tensor> inputs, Duration wait) throws Exception {
    Predictor<List<Tensor>, List<Tensor>> predictor = idle.poll();
    if (predictor == null) {
      queueDepth.incrementAndGet();
      try {
        predictor = idle.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
      } finally {
        queueDepth.decrementAndGet();
      }
    }
    if (predictor == null) {
      throw new ModelBusyException(
          name
              + " - all "
              + all.size()
              + " workers stayed busy for "
              + wait.toMillis()
              + " ms; retry later or raise workers");
    }
    try {
      return predictor.predict(inputs);
    } finally {
      idle.add(predictor);
    }
  }

  String name() {
    return name;
  }

  ModelMetadata metadata() {
    return metadata;
  }

  InstalledSnapshot snapshot() {
    return snapshot;
  }

  String modelFile() {
    return modelFile;
  }

  Duration loadTime() {
    return loadTime;
  }

  Device device() {
    return model.getNDManager().getDevice();
  }

  @Override
  public void close() {
    all.forEach(Predictor::close);
    model.close();
  }
}
