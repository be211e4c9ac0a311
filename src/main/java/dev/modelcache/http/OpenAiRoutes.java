package dev.modelcache.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.ModelConfig.TaskKind;
import dev.modelcache.http.OpenAiErrors.BadParam;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelRegistry.Embeddings;
import dev.modelcache.inference.UnknownModelException;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * The OpenAI-compatible embeddings API, so that code written for the OpenAI SDKs switches to the
 * sidecar by its {@code base_url} alone: {@code POST /v1/embeddings} (behind the bearer token,
 * which the SDK sends as its {@code api_key}, and admission control, through the model's queue and
 * batcher like {@code POST /inference}), and {@code GET /v1/models}, {@code GET /v1/models/{model}}
 * listing the {@code text-embedding} models, the only ones these routes serve. Errors are in
 * OpenAI's shape ({@link OpenAiErrors}).
 */
final class OpenAiRoutes {
  private final KnownModels models;
  private final ModelRegistry registry;
  private final RequestBodies bodies;
  private final ObjectMapper json;

  OpenAiRoutes(
      KnownModels models, ModelRegistry registry, RequestBodies bodies, ObjectMapper json) {
    this.models = models;
    this.registry = registry;
    this.bodies = bodies;
    this.json = json;
  }

  /** Registers the routes, the embeddings wrapped in {@code guarded} (token, admission control). */
  void register(RoutesConfig routes, UnaryOperator<Handler> guarded) {
    routes.post("/v1/embeddings", guarded.apply(this::embeddings));
    routes.get("/v1/models", this::list);
    routes.get("/v1/models/{model}", this::retrieve);
    routes.exception(BadParam.class, OpenAiErrors::badParam);
  }

  private void embeddings(Context ctx) {
    EmbeddingRequest request = EmbeddingRequest.parse(bodies.json(ctx));
    ModelConfig model = models.known(request.model());
    if (model.task() != TaskKind.TEXT_EMBEDDING) {
      throw new BadParam(
          model.name()
              + " is a "
              + model.task()
              + " model; /v1/embeddings is served by text-embedding models ("
              + embeddingModels()
              + ")",
          "model",
          "model_not_supported");
    }
    RequestLog.model(model.name());
    Embeddings answer = registry.embed(model.name(), request.texts());
    bodies.respond(ctx, render(request, answer));
  }

  private ObjectNode render(EmbeddingRequest request, Embeddings answer) {
    ObjectNode body = json.createObjectNode();
    body.put("object", "list");
    ArrayNode data = body.putArray("data");
    for (int i = 0; i < answer.vectors().size(); i++) {
      float[] vector = sized(request, answer.vectors().get(i));
      ObjectNode item = data.addObject().put("object", "embedding").put("index", i);
      if (request.base64()) {
        item.put("embedding", base64(vector));
      } else {
        ArrayNode values = item.putArray("embedding");
        for (float v : vector) {
          values.add(v);
        }
      }
    }
    body.put("model", request.model());
    body.putObject("usage")
        .put("prompt_tokens", answer.tokens())
        .put("total_tokens", answer.tokens());
    return body;
  }

  /**
   * The vector at the width the request asks: its first {@code dimensions} values scaled back to
   * length 1, as OpenAI shortens its text-embedding-3 vectors; unchanged at the model's own width.
   */
  private static float[] sized(EmbeddingRequest request, float[] vector) {
    Integer dimensions = request.dimensions();
    if (dimensions == null || dimensions == vector.length) {
      return vector;
    }
    if (dimensions > vector.length) {
      throw new BadParam(
          "dimensions is "
              + dimensions
              + ", more than the "
              + vector.length
              + " of "
              + request.model()
              + "'s vectors; ask for at most "
              + vector.length,
          "dimensions",
          "invalid_value");
    }
    double norm = 0;
    for (int d = 0; d < dimensions; d++) {
      norm += (double) vector[d] * vector[d];
    }
    norm = Math.max(Math.sqrt(norm), 1e-12);
    float[] shortened = new float[dimensions];
    for (int d = 0; d < dimensions; d++) {
      shortened[d] = (float) (vector[d] / norm);
    }
    return shortened;
  }

  /** The vector as OpenAI's {@code base64}: its float32 values little-endian, base64-encoded. */
  static String base64(float[] vector) {
    ByteBuffer bytes = ByteBuffer.allocate(vector.length * Float.BYTES);
    bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(vector);
    return Base64.getEncoder().encodeToString(bytes.array());
  }

  private void list(Context ctx) {
    ObjectNode body = json.createObjectNode();
    body.put("object", "list");
    ArrayNode data = body.putArray("data");
    for (ModelConfig model : models.all()) {
      if (model.task() == TaskKind.TEXT_EMBEDDING) {
        data.add(describe(model));
      }
    }
    ctx.json(body);
  }

  private void retrieve(Context ctx) {
    ModelConfig model = models.known(ctx.pathParam("model"));
    if (model.task() != TaskKind.TEXT_EMBEDDING) {
      throw new UnknownModelException(
          "model '"
              + model.name()
              + "' is a "
              + model.task()
              + " model; the /v1 routes serve text-embedding models only ("
              + embeddingModels()
              + "); GET /models lists every model");
    }
    ctx.json(describe(model));
  }

  /**
   * OpenAI's model object; {@code created} is when the revision served was installed in the cache
   * (its snapshot folder's time), 0 while the model has no files yet.
   */
  private ObjectNode describe(ModelConfig model) {
    long created =
        registry.info(model.name()).map(info -> secondsOf(info.snapshot().dir())).orElse(0L);
    return json.createObjectNode()
        .put("id", model.name())
        .put("object", "model")
        .put("created", created)
        .put("owned_by", "modelcache");
  }

  private static long secondsOf(Path dir) {
    try {
      return Files.getLastModifiedTime(dir).to(TimeUnit.SECONDS);
    } catch (IOException e) {
      return 0; // gone since it was loaded: the cache was cleaned under the daemon
    }
  }

  private String embeddingModels() {
    String names =
        String.join(
            ", ",
            models.all().stream()
                .filter(m -> m.task() == TaskKind.TEXT_EMBEDDING)
                .map(ModelConfig::name)
                .toList());
    return names.isEmpty() ? "none is configured" : "configured: " + names;
  }
}
