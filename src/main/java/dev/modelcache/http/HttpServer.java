package dev.modelcache.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.ModelNotFoundException;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelRegistry.LoadedInfo;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.ModelStates;
import dev.modelcache.metrics.ModelStatus;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HttpResponseException;
import io.javalin.json.JavalinJackson;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read-only HTTP API of {@code ../shared/DESIGN.md}: health, models, inference and metrics. No
 * route changes the cache or the set of models. Exceptions become HTTP statuses in {@link
 * ErrorMapping}; {@link RequestLog} gives every request its id and access-log line. {@link
 * #close()} drains: it stops accepting connections and waits up to {@code
 * server.shutdown_grace_seconds} for the requests in flight.
 *
 * <pre>{@code
 * try (HttpServer server = new HttpServer(config.server(), models, states, registry, prometheus, json).start()) {
 *   int port = server.port();
 * }
 * }</pre>
 */
public final class HttpServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpServer.class);

  private final ServerConfig server;
  private final Map<String, ModelConfig> models = new LinkedHashMap<>();
  private final ModelStates states;
  private final ModelRegistry registry;
  private final PrometheusMeterRegistry prometheus;
  private final ObjectMapper json;
  private final List<String> routes = Collections.synchronizedList(new ArrayList<>());
  private final DrainingHandler draining = new DrainingHandler();
  private final Admission admission;
  private final BearerAuth auth;
  private final ErrorMapping errors;
  private final Javalin app;
  private volatile Server jetty;

  public HttpServer(
      ServerConfig server,
      List<ModelConfig> models,
      ModelStates states,
      ModelRegistry registry,
      PrometheusMeterRegistry prometheus,
      ObjectMapper json) {
    this.server = server;
    models.forEach(m -> this.models.put(m.name(), m));
    this.states = states;
    this.registry = registry;
    this.prometheus = prometheus;
    this.json = json;
    this.admission =
        new Admission(server, Runtime.getRuntime().maxMemory(), new Metrics(prometheus));
    this.auth = new BearerAuth(server);
    this.errors = new ErrorMapping(server.maxBodyBytes());
    this.app =
        Javalin.create(
            config -> {
              config.jsonMapper(new JavalinJackson(json, false));
              config.http.maxRequestSize = server.maxBodyBytes();
              config.http.prefer405over404 = true;
              config.startup.showJavalinBanner = false;
              config.jetty.host = server.host();
              config.jetty.port = server.port();
              config.jetty.modifyServer(
                  jetty -> {
                    jetty.insertHandler(draining);
                    this.jetty = jetty;
                  });
              config.requestLogger.http(RequestLog::end);
              config.events.handlerAdded(
                  info -> {
                    if (info.getHttpMethod().isHttpMethod()) {
                      routes.add(info.getHttpMethod().name() + " " + info.getPath());
                    }
                  });
              config.routes.before(RequestLog::start);
              config.routes.get("/health/live", ctx -> ctx.json(Map.of("status", "live")));
              config.routes.get("/health/ready", this::ready);
              config.routes.get("/health", this::health);
              config.routes.get(
                  "/models",
                  ctx ->
                      ctx.json(
                          Map.of(
                              "models",
                              this.models.values().stream().map(this::describe).toList())));
              config.routes.get(
                  "/models/{name}", ctx -> ctx.json(describe(known(ctx.pathParam("name")))));
              config.routes.post(
                  "/inference", auth.authorized(admission.admitted(ctx -> infer(ctx, null))));
              config.routes.post(
                  "/inference/{model}",
                  auth.authorized(admission.admitted(ctx -> infer(ctx, ctx.pathParam("model")))));
              for (String prefix :
                  List.of("/v2/models/{model}", "/v2/models/{model}/versions/{version}")) {
                config.routes.get(prefix, this::v2Metadata);
                config.routes.get(prefix + "/ready", this::v2ModelReady);
                config.routes.post(
                    prefix + "/infer", auth.authorized(admission.admitted(this::v2Infer)));
              }
              config.routes.get("/v2", this::v2Server);
              config.routes.get("/v2/health/live", ctx -> ctx.json(Map.of("live", true)));
              config.routes.get("/v2/health/ready", this::v2Ready);
              Handler metrics =
                  ctx ->
                      ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
                          .result(prometheus.scrape());
              config.routes.get(
                  "/metrics", server.authMetrics() ? auth.authorized(metrics) : metrics);

              errors.register(config.routes);
            });
  }

  /** Starts listening; {@link #port()} then tells the bound port (useful with port 0). */
  public HttpServer start() {
    app.start();
    log.info(
        "HTTP listening on {}:{}{}",
        server.host(),
        app.port(),
        server.token() == null
            ? ""
            : " ("
                + (server.authMetrics() ? "inference and /metrics require" : "inference requires")
                + " the bearer token from "
                + server.tokenEnv()
                + ")");
    return this;
  }

  /** Requests being handled right now. */
  public int activeRequests() {
    return draining.active();
  }

  public int port() {
    return app.port();
  }

  /** Every route registered, as "METHOD /path". */
  public List<String> routes() {
    return List.copyOf(routes);
  }

  /**
   * Stops gracefully: no new connections, then up to {@code server.shutdown_grace_seconds} for the
   * requests in flight, then every connection is closed.
   *
   * @return true when every request in flight finished within the grace period
   */
  public boolean stop() {
    int cut = 0;
    Server started = jetty;
    if (started != null && started.isStarted() && server.shutdownGraceSeconds() > 0) {
      // Jetty's graceful stop, except that it waits for the requests in flight only, not for idle
      // keep-alive connections to time out: the connectors stop accepting (new connections are
      // refused), the DrainingHandler completes once no request is in flight, and stop() then
      // closes the connections left.
      for (Connector connector : started.getConnectors()) {
        connector.shutdown();
      }
      try {
        draining.shutdown().get(server.shutdownGraceSeconds(), TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        cut = draining.active();
      } catch (ExecutionException e) {
        log.warn("HTTP - graceful stop failed: {}", e.getCause().toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        cut = draining.active();
      }
    }
    app.stop(); // closes every connection still open
    if (cut > 0) {
      log.warn(
          "HTTP - {} requests were still running when the grace period of {} s"
              + " (server.shutdown_grace_seconds) ended; their connections were closed",
          cut,
          server.shutdownGraceSeconds());
    }
    return cut == 0;
  }

  @Override
  public void close() {
    stop();
  }

  private void ready(Context ctx) {
    if (states.ready()) {
      ctx.json(Map.of("status", "ready"));
    } else {
      List<String> waiting =
          states.all().stream()
              .filter(
                  s ->
                      states.isRequired(s.model())
                          && s.state() != dev.modelcache.metrics.ModelState.READY)
              .map(s -> s.model() + " (" + s.state() + ")")
              .toList();
      ctx.status(503).json(Map.of("status", "not ready", "waiting_for", waiting));
    }
  }

  private void health(Context ctx) {
    ObjectNode body = json.createObjectNode();
    boolean ready = states.ready();
    body.put("status", ready ? "ready" : "not ready");
    ArrayNode list = body.putArray("models");
    for (ModelStatus status : states.all()) {
      ObjectNode m = list.addObject();
      m.put("name", status.model());
      m.put("state", status.state().name());
      m.put("required", states.isRequired(status.model()));
      m.put("since", status.since().toString());
      if (status.state() == dev.modelcache.metrics.ModelState.FETCHING) {
        m.put("bytes", status.bytesDone());
        m.put("total_bytes", status.bytesTotal());
        m.put("bytes_per_second", Math.round(status.bytesPerSecond()));
        m.put("eta_seconds", status.etaSeconds());
      }
      if (status.reason() != null) {
        m.put("reason", status.reason());
      }
      putStale(m, status.model());
    }
    ctx.status(ready ? 200 : 503).json(body);
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
    putStale(m, model.name());
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
    return m;
  }

  /**
   * {@code "stale": {"revision", "reason", "since"}} while the model serves a cached revision
   * because its source was unreachable.
   */
  private void putStale(ObjectNode m, String model) {
    states
        .stale(model)
        .ifPresent(
            stale ->
                m.putObject("stale")
                    .put("revision", stale.revision())
                    .put("reason", stale.reason())
                    .put("since", stale.since().toString()));
  }

  private static void describeLoaded(ObjectNode m, LoadedInfo info) {
    m.put("revision", info.snapshot().id());
    m.put("engine", info.engine()); // the one chosen (engine: auto resolves by the model file)
    m.put("loaded", info.loaded());
    if (info.loaded()) {
      m.put("device", info.device());
      m.put("model_file", info.modelFile());
      m.put("load_seconds", info.loadTime().toMillis() / 1000.0);
      m.put("warmup_seconds", info.warmupTime().toMillis() / 1000.0);
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

  private ModelConfig known(String name) {
    ModelConfig model = models.get(name);
    if (model == null) {
      throw new ModelNotFoundException(
          "model '"
              + (name.length() > 64 ? name.substring(0, 64) + "..." : name)
              + "' is not configured (configured: "
              + String.join(", ", models.keySet())
              + ")");
    }
    return model;
  }

  private void infer(Context ctx, String pathModel) {
    String type = ctx.contentType();
    if (pathModel != null && type != null && registry.takesRaw(known(pathModel).name(), type)) {
      // an image posted as its own bytes, to a model whose task takes them
      RequestLog.model(pathModel);
      respond(ctx, registry.inferRaw(pathModel, type, body(ctx)));
      return;
    }
    JsonNode body = parseJson(ctx);
    String model = pathModel;
    JsonNode named = body.get("model");
    if (model == null) {
      if (named == null || !named.isTextual()) {
        throw new HttpError(
            400,
            "request needs a \"model\" (a string naming a configured model:"
                + " "
                + String.join(", ", models.keySet())
                + "), or POST to /inference/{model}");
      }
      model = named.asText();
    } else if (named != null && !(named.isTextual() && named.asText().equals(model))) {
      throw new HttpError(
          400, "the body names model " + named + " but the path names '" + model + "'");
    }
    known(model);
    RequestLog.model(model);
    respond(ctx, registry.infer(model, body));
  }

  private void v2Server(Context ctx) {
    ObjectNode body = json.createObjectNode();
    body.put("name", "modelcache");
    String version = HttpServer.class.getPackage().getImplementationVersion();
    body.put("version", version == null ? "dev" : version);
    body.putArray("extensions");
    ctx.json(body);
  }

  private void v2Ready(Context ctx) {
    boolean ready = states.ready();
    ctx.status(ready ? 200 : 503).json(Map.of("ready", ready));
  }

  private void v2ModelReady(Context ctx) {
    String model = known(ctx.pathParam("model")).name();
    boolean ready = registry.isReady(model);
    if (ready && ctx.pathParamMap().containsKey("version")) {
      registry.v2Metadata(model, ctx.pathParam("version")); // 404 for another version
    }
    if (!ready) {
      ctx.header("Retry-After", ErrorMapping.RETRY_AFTER_SECONDS);
    }
    ctx.status(ready ? 200 : 503).json(Map.of("name", model, "ready", ready));
  }

  private void v2Metadata(Context ctx) {
    String model = known(ctx.pathParam("model")).name();
    ctx.json(V2Json.metadata(json, registry.v2Metadata(model, version(ctx))));
  }

  private void v2Infer(Context ctx) {
    String model = known(ctx.pathParam("model")).name();
    RequestLog.model(model);
    V2Json.Request request = V2Json.parseRequest(parseJson(ctx));
    respond(
        ctx,
        V2Json.response(
            json, model, request, registry.inferV2(model, version(ctx), request.inputs())));
  }

  private static String version(Context ctx) {
    return ctx.pathParamMap().get("version");
  }

  private JsonNode parseJson(Context ctx) {
    String type = ctx.contentType();
    if (type != null && !type.toLowerCase(Locale.ROOT).contains("json")) {
      throw new HttpError(
          415,
          "Content-Type is '"
              + type
              + "'; send application/json"
              + " (with curl: -H 'Content-Type: application/json')");
    }
    byte[] bytes = body(ctx);
    if (bytes.length == 0) {
      throw new HttpError(
          400, "request body is empty; send a JSON object such as {\"inputs\": [[1, 2, 3, 4]]}");
    }
    JsonNode body;
    try {
      body = json.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new HttpError(
          400,
          "request body is not valid JSON: "
              + e.getOriginalMessage()
              + (e.getLocation() == null
                  ? ""
                  : " (line "
                      + e.getLocation().getLineNr()
                      + ", column "
                      + e.getLocation().getColumnNr()
                      + ")"));
    } catch (java.io.IOException e) {
      throw new HttpError(400, "request body could not be read: " + e.getMessage(), e);
    }
    if (body == null || !body.isObject()) {
      throw new HttpError(
          400, "request body must be a JSON object such as {\"inputs\": [[1, 2, 3, 4]]}");
    }
    return body;
  }

  /**
   * The request body. A body broken on the wire (shorter than its Content-Length, a chunk size that
   * is not hex, the connection closed mid-body) is the client's fault: 400, not a 500 and no ERROR
   * line. Jetty reports it as an IOException that Javalin rethrows unchecked.
   */
  private byte[] body(Context ctx) {
    byte[] bytes;
    try {
      bytes = ctx.bodyAsBytes();
    } catch (HttpResponseException e) {
      throw e; // 413 past server.max_body_bytes
    } catch (Exception e) {
      if (e instanceof java.io.IOException || e instanceof org.eclipse.jetty.http.HttpException) {
        log.debug("{} {} - body could not be read: {}", ctx.method(), ctx.path(), e.toString());
        throw new HttpError(
            400,
            "request body could not be read: the connection ended or the chunked encoding broke"
                + " before the body was complete ("
                + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage())
                + "); send the whole body, as many bytes as Content-Length says or in valid"
                + " chunks",
            e);
      }
      throw e;
    }
    admission.read(ctx, bytes.length);
    return bytes;
  }

  /**
   * The answer of an inference route, written here so that the heap it takes is part of the
   * request's reservation (Javalin's {@code ctx.json} would write it after the handler).
   */
  private void respond(Context ctx, Object answer) {
    ctx.contentType("application/json");
    try {
      // streamed: a large answer is never held a second time as bytes
      json.writeValue(ctx.outputStream(), answer);
    } catch (java.io.IOException e) {
      log.debug(
          "{} {} - the client left while its answer was sent: {}",
          ctx.method(),
          ctx.path(),
          e.toString());
    }
  }
}
