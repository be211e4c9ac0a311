package dev.modelcache.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelStates;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * The KServe Open Inference Protocol v2 REST routes: {@code /v2}, its health, and per model
 * (optionally at {@code /versions/{version}}, the revision served) metadata, readiness and {@code
 * infer}; the JSON shapes are {@link V2Json}'s, and {@code infer} also speaks Triton's binary
 * tensor data extension ({@link V2Binary}).
 */
final class V2Routes {
  private final KnownModels models;
  private final ModelStates states;
  private final ModelRegistry registry;
  private final ObjectMapper json;
  private final RequestBodies bodies;

  V2Routes(
      KnownModels models,
      ModelStates states,
      ModelRegistry registry,
      ObjectMapper json,
      RequestBodies bodies) {
    this.models = models;
    this.states = states;
    this.registry = registry;
    this.json = json;
    this.bodies = bodies;
  }

  /** Registers the routes, {@code infer} wrapped in {@code guarded} (token, admission control). */
  void register(RoutesConfig routes, UnaryOperator<Handler> guarded) {
    for (String prefix : List.of("/v2/models/{model}", "/v2/models/{model}/versions/{version}")) {
      routes.get(prefix, this::metadata);
      routes.get(prefix + "/ready", this::modelReady);
      routes.post(prefix + "/infer", guarded.apply(this::infer));
    }
    routes.get("/v2", this::server);
    routes.get("/v2/health/live", ctx -> ctx.json(Map.of("live", true)));
    routes.get("/v2/health/ready", this::ready);
  }

  private void server(Context ctx) {
    ObjectNode body = json.createObjectNode();
    body.put("name", "modelcache");
    String version = HttpServer.class.getPackage().getImplementationVersion();
    body.put("version", version == null ? "dev" : version);
    body.putArray("extensions").add(V2Binary.EXTENSION);
    ctx.json(body);
  }

  private void ready(Context ctx) {
    boolean ready = states.ready();
    ctx.status(ready ? 200 : 503).json(Map.of("ready", ready));
  }

  private void modelReady(Context ctx) {
    String model = models.known(ctx.pathParam("model")).name();
    boolean ready = registry.isReady(model);
    if (ready && ctx.pathParamMap().containsKey("version")) {
      registry.v2Metadata(model, ctx.pathParam("version")); // 404 for another version
    }
    if (!ready) {
      ctx.header("Retry-After", ErrorMapping.RETRY_AFTER_SECONDS);
    }
    ctx.status(ready ? 200 : 503).json(Map.of("name", model, "ready", ready));
  }

  private void metadata(Context ctx) {
    String model = models.known(ctx.pathParam("model")).name();
    ctx.json(V2Json.metadata(json, registry.v2Metadata(model, version(ctx))));
  }

  private void infer(Context ctx) {
    String model = models.known(ctx.pathParam("model")).name();
    RequestLog.model(model);
    JsonNode body;
    if (ctx.header(V2Binary.HEADER) == null) {
      byte[] bytes = bodies.jsonBytes(ctx);
      // the fast path of a tensor model's plain JSON request: no tree; null for any other body
      Object answer =
          registry.inferV2Streamed(
              model, version(ctx), ctx.pathParam("model"), bytes, bytes.length);
      if (answer != null) {
        bodies.respond(ctx, answer);
        return;
      }
      body =
          V2Binary.inlineInputs(
              bodies.object(bytes, bytes.length, "request body"), new byte[0], 0, false);
    } else {
      body = binaryRequest(ctx, model);
    }
    JsonNode named = body.path("model_name");
    if (!named.isMissingNode()
        && !named.asText().equals(model)
        && !named.asText().equals(ctx.pathParam("model"))) {
      throw new HttpError(
          400,
          "the request's model_name "
              + V2Binary.abbreviate(named.toString())
              + " is not the model of its path, '"
              + ctx.pathParam("model")
              + "'");
    }
    V2Json.Request request = V2Json.parseRequest(body);
    V2BinaryOutputs.Wanted binary = V2BinaryOutputs.of(body);
    ObjectNode response =
        V2Json.response(
            json, model, request, registry.inferV2(model, version(ctx), request.inputs()));
    List<byte[]> parts = V2BinaryOutputs.answer(json, response, binary);
    if (parts.isEmpty()) {
      bodies.respond(ctx, response);
    } else {
      ctx.header(V2Binary.HEADER, Integer.toString(parts.get(0).length));
      bodies.respond(ctx, V2Binary.CONTENT_TYPE, parts);
    }
  }

  /** The inference request of Triton's JSON header and binary tensor data. */
  private JsonNode binaryRequest(Context ctx, String model) {
    String header = java.util.Objects.requireNonNull(ctx.header(V2Binary.HEADER), V2Binary.HEADER);
    V2Binary.checkContentType(ctx.contentType());
    byte[] bytes = bodies.bytes(ctx);
    int length = V2Binary.headerLength(header, bytes.length);
    if (length == 0) {
      return V2Binary.rawRequest(model, registry.v2Metadata(model, version(ctx)).inputs(), bytes);
    }
    JsonNode head =
        bodies.object(
            bytes,
            length,
            "the JSON header (the first " + length + " bytes, " + V2Binary.HEADER + ")");
    return V2Binary.inlineInputs(head, bytes, length, true);
  }

  private static @Nullable String version(Context ctx) {
    return ctx.pathParamMap().get("version");
  }
}
