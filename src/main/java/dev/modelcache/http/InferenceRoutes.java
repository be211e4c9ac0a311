package dev.modelcache.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.inference.ModelRegistry;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * {@code POST /inference} ({@code {"model": ..., "inputs": ...}}) and {@code POST
 * /inference/{model}} (the same with the name in the path, or a raw image body for a task that
 * takes one), behind the bearer token and admission control.
 */
final class InferenceRoutes {
  private final KnownModels models;
  private final ModelRegistry registry;
  private final RequestBodies bodies;

  InferenceRoutes(KnownModels models, ModelRegistry registry, RequestBodies bodies) {
    this.models = models;
    this.registry = registry;
    this.bodies = bodies;
  }

  /** Registers the routes, each wrapped in {@code guarded} (the token and admission control). */
  void register(RoutesConfig routes, UnaryOperator<Handler> guarded) {
    routes.post("/inference", guarded.apply(ctx -> infer(ctx, null)));
    routes.post("/inference/{model}", guarded.apply(ctx -> infer(ctx, ctx.pathParam("model"))));
  }

  private void infer(Context ctx, @Nullable String pathModel) {
    String type = ctx.contentType();
    if (pathModel != null
        && type != null
        && registry.takesRaw(models.known(pathModel).name(), type)) {
      // an image posted as its own bytes, to a model whose task takes them
      RequestLog.model(pathModel);
      bodies.respond(ctx, registry.inferRaw(pathModel, type, bodies.bytes(ctx)));
      return;
    }
    byte[] bytes = bodies.jsonBytes(ctx, type);
    String named = pathModel != null ? pathModel : bodies.firstString(bytes, "model");
    if (named != null && models.isKnown(named)) {
      // the fast path of a plain tensor request: no tree; null for any other body
      RequestLog.model(named);
      Object answer = registry.inferStreamed(named, bytes, bytes.length);
      if (answer != null) {
        bodies.respond(ctx, answer);
        return;
      }
    }
    JsonNode body = bodies.object(bytes, bytes.length, "request body");
    String model = pathModel;
    JsonNode given = body.get("model");
    if (model == null) {
      if (given == null || !given.isTextual()) {
        throw new HttpError(
            400,
            "request needs a \"model\" (a string naming a configured model:"
                + " "
                + models.names()
                + "), or POST to /inference/{model}");
      }
      model = given.asText();
    } else if (given != null && !(given.isTextual() && given.asText().equals(model))) {
      throw new HttpError(
          400, "the body names model " + given + " but the path names '" + model + "'");
    }
    models.known(model);
    RequestLog.model(model);
    bodies.respond(ctx, registry.infer(model, body));
  }
}
