package dev.modelcache.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.ModelVersions;
import dev.modelcache.inference.LoadedInfo;
import dev.modelcache.inference.LoadedRevision;
import dev.modelcache.inference.ModelMemory;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.inference.ModelStatus;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import dev.modelcache.store.LockSignature;
import io.javalin.config.RoutesConfig;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * The model listing: {@code GET /models} and {@code /models/{name}}, each model's config, state,
 * revision and files (with their sha256) and, once loaded, its engine, device and load times.
 */
final class ModelRoutes {
  private final KnownModels models;
  private final ModelStates states;
  private final ModelRegistry registry;
  private final ObjectMapper json;
  private final Function<String, Optional<LockSignature.Signer>> signedBy;

  ModelRoutes(
      KnownModels models,
      ModelStates states,
      ModelRegistry registry,
      ObjectMapper json,
      Function<String, Optional<LockSignature.Signer>> signedBy) {
    this.signedBy = signedBy;
    this.models = models;
    this.states = states;
    this.registry = registry;
    this.json = json;
  }

  void register(RoutesConfig routes) {
    routes.get(
        "/models",
        ctx -> ctx.json(Map.of("models", models.all().stream().map(this::describe).toList())));
    routes.get("/models/{name}", ctx -> ctx.json(describe(models.known(ctx.pathParam("name")))));
  }

  private ObjectNode describe(ModelConfig model) {
    ModelStatus status = states.status(model.name());
    ObjectNode m = json.createObjectNode();
    m.put("name", model.name());
    m.put("state", status.state().name());
    if (status.reason() != null) {
      m.put("reason", status.reason());
    }
    m.put("source", model.source().text());
    putStale(states, m, model.name());
    m.put("engine", model.engine());
    m.put("task", model.task().toString());
    m.put("required", model.required());
    m.put("workers", model.workers());
    m.put("load", model.lazy() ? "lazy" : "preload");
    m.put("device_config", model.device());
    m.putObject("batch")
        .put("max_size", model.batchMaxSize())
        .put("max_delay_ms", model.batchMaxDelayMs());
    m.put("queue", model.queue());
    m.put("timeout_ms", model.timeoutMs());
    registry.info(model.name()).ifPresent(info -> describeLoaded(m, info));
    if (model.versions().keep() > 1) {
      m.put("versions", model.versions().keep());
    }
    ModelVersions.Canary canary = model.versions().canary();
    if (canary != null) {
      m.putObject("canary").put("revision", canary.revision()).put("weight", canary.weight());
    }
    putRevisions(registry, m, model.name());
    signedBy
        .apply(model.name())
        .ifPresent(
            signer ->
                m.putObject("signed_by")
                    .put("key_id", signer.keyId())
                    .put("algorithm", signer.algorithm()));
    return m;
  }

  /**
   * {@code "stale": {"revision", "reason", "since"}} while the model serves a cached revision
   * because its source was unreachable.
   */
  static void putStale(ModelStates states, ObjectNode m, String model) {
    states
        .stale(model)
        .ifPresent(
            stale ->
                m.putObject("stale")
                    .put("revision", stale.revision())
                    .put("reason", stale.reason())
                    .put("since", stale.since().toString()));
    states
        .update(model)
        .ifPresent(
            update -> {
              m.put("pending_revision", update.pending());
              if (update.error() != null) {
                m.put("update_error", update.error());
              }
              if (update.retryAt() != null) {
                m.put("update_retry_at", update.retryAt().toString());
              }
            });
  }

  /**
   * {@code "revisions": [{"revision", "role"}]}: the revisions loaded, the primary first, when the
   * model has more than one.
   */
  static void putRevisions(ModelRegistry registry, ObjectNode m, String model) {
    List<LoadedRevision> revisions = registry.revisions(model);
    if (revisions.size() > 1) {
      ArrayNode list = m.putArray("revisions");
      revisions.forEach(r -> list.addObject().put("revision", r.revision()).put("role", r.role()));
    }
  }

  private static void describeLoaded(ObjectNode m, LoadedInfo info) {
    m.put("revision", info.snapshot().id());
    m.put("engine", info.engine()); // the one chosen (engine: auto resolves by the model file)
    m.put("loaded", info.loaded());
    if (info.loaded()) {
      m.put("device", info.device());
      m.put("model_file", info.modelFile());
      // a loaded model has its times (LoadedInfo: null only before it is loaded)
      m.put("load_seconds", Objects.requireNonNull(info.loadTime()).toMillis() / 1000.0);
      m.put("warmup_seconds", Objects.requireNonNull(info.warmupTime()).toMillis() / 1000.0);
      ModelMemory memory = info.memory();
      if (memory != null) {
        m.putObject("memory")
            .put("total_bytes", memory.totalBytes())
            .put("native_bytes", memory.nativeBytes())
            .put("heap_bytes", memory.heapBytes())
            .put("file_bytes", memory.fileBytes())
            .put("method", memory.method())
            .put("overlapped", memory.overlapped());
      }
    }
    m.put("bytes", info.snapshot().totalBytes());
    ArrayNode files = m.putArray("files");
    for (InstalledFile file : info.snapshot().files()) {
      files
          .addObject()
          .put("path", file.path())
          .put("size", file.size())
          .put("sha256", file.sha256());
    }
    if (info.loaded()) {
      ObjectNode batch = (ObjectNode) m.get("batch");
      batch.put("effective_max_size", info.batchMaxSize());
      if (info.unbatched() != null) {
        batch.put("unbatched_reason", info.unbatched());
      }
    }
    if (!info.labels().isEmpty()) {
      ArrayNode labels = m.putArray("labels");
      info.labels().forEach(labels::add);
    }
  }
}
