package dev.modelcache.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.inference.MemoryBudget;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.store.LockSignature;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.compression.Gzip;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Handler;
import io.javalin.json.JavalinJackson;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.jspecify.annotations.Nullable;
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

  /**
   * Jetty's padding of its thread pool's queue against false sharing, in references per cache line.
   * Unset, Jetty asks the platform MBean server whether oops are compressed, which registers every
   * platform MBean (JFR's and the diagnostic commands' included): about a tenth of HTTP's start. 16
   * is right with compressed oops (a 64-byte line of 4-byte references) and pads twice as much,
   * harmlessly, without them. A value given with {@code -D} is kept.
   */
  static final String REFERENCES_PER_CACHE_LINE = "org.eclipse.jetty.util.referencesPerCacheLine";

  static {
    if (System.getProperty(REFERENCES_PER_CACHE_LINE) == null) {
      System.setProperty(REFERENCES_PER_CACHE_LINE, "16");
    }
  }

  /** Javalin's copy buffer of a {@code ctx.json}/{@code ctx.result} answer, allocated per one. */
  static final int COPY_BUFFER_BYTES = 4096;

  private static final String JSON = "application/json";

  private final ServerConfig server;
  private final List<String> routes = Collections.synchronizedList(new ArrayList<>());
  private final DrainingHandler draining = new DrainingHandler();
  private final Javalin app;
  private final KnownModels known;
  private volatile @Nullable Server jetty;

  public HttpServer(
      ServerConfig server,
      List<ModelConfig> models,
      ModelStates states,
      ModelRegistry registry,
      PrometheusMeterRegistry prometheus,
      ObjectMapper json) {
    this(
        server,
        models,
        states,
        registry,
        prometheus,
        json,
        new MemoryBudget(server.limits().memoryBudget(Runtime.getRuntime().maxMemory())));
  }

  /** A server whose inference requests reserve their heap in {@code budget} (shared with gRPC). */
  public HttpServer(
      ServerConfig server,
      List<ModelConfig> models,
      ModelStates states,
      ModelRegistry registry,
      PrometheusMeterRegistry prometheus,
      ObjectMapper json,
      MemoryBudget budget) {
    this(server, models, states, registry, prometheus, json, budget, model -> Optional.empty());
  }

  /**
   * A server whose {@code /models} names the key that signed each model's lockfile entry ({@code
   * signedBy}).
   */
  public HttpServer(
      ServerConfig server,
      List<ModelConfig> models,
      ModelStates states,
      ModelRegistry registry,
      PrometheusMeterRegistry prometheus,
      ObjectMapper json,
      MemoryBudget budget,
      Function<String, Optional<LockSignature.Signer>> signedBy) {
    this.server = server;
    this.known = new KnownModels(models);
    Admission admission =
        new Admission(server, Runtime.getRuntime().maxMemory(), budget, new Metrics(prometheus));
    BearerAuth auth = new BearerAuth(server);
    RequestBodies bodies = new RequestBodies(json, admission);
    UnaryOperator<Handler> guarded = handler -> auth.authorized(admission.admitted(handler));
    Handler metrics =
        ctx ->
            ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(prometheus.scrape());
    this.app =
        Javalin.create(
            config -> {
              configure(config, json);
              config.routes.before(RequestLog::start);
              new HealthRoutes(states, registry, json).register(config.routes);
              new ModelRoutes(known, states, registry, json, signedBy).register(config.routes);
              new InferenceRoutes(known, registry, bodies).register(config.routes, guarded);
              new V2Routes(known, states, registry, json, bodies).register(config.routes, guarded);
              new OpenAiRoutes(known, registry, bodies, json).register(config.routes, guarded);
              config.routes.get(
                  "/metrics", server.authMetrics() ? auth.authorized(metrics) : metrics);
              new ErrorMapping(server.maxBodyBytes()).register(config.routes);
            });
  }

  /** Jetty, the body limit, the request log and the list of routes; no routes yet. */
  private void configure(JavalinConfig config, ObjectMapper json) {
    config.jsonMapper(new JavalinJackson(json, false));
    config.http.maxRequestSize = server.maxBodyBytes();
    config.http.prefer405over404 = true;
    config.startup.showJavalinBanner = false;
    config.jetty.host = server.host();
    config.jetty.port = server.port();
    perRequest(config);
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
  }

  /**
   * Javalin's per-request work that modelcache does not need (issue #18, docs/performance.md "The
   * HTTP side"). No route uses sessions, so the session manager never parses the Cookie header for
   * a session id. Javalin copies a {@code ctx.json}/{@code ctx.result} answer through a buffer of
   * this size allocated (and zeroed) per response, 32 KiB unset: the answers so copied are small,
   * and a larger one is copied in several passes (first pass still over the 1500-byte compression
   * threshold). Gzip still answers an {@code Accept-Encoding: gzip} request over 1500 bytes; JSON,
   * the type of nearly every answer, is listed as allowed, which spares the case-insensitive scan
   * of the excluded types on every response.
   */
  private static void perRequest(JavalinConfig config) {
    config.jetty.modifyServletContextHandler(
        context -> context.getSessionHandler().setUsingCookies(false));
    config.http.responseBufferSize = COPY_BUFFER_BYTES;
    CompressionStrategy gzip = new CompressionStrategy(null, new Gzip());
    List<String> allowed = new ArrayList<>(List.of(JSON, JSON + ";charset=utf-8"));
    allowed.addAll(gzip.getAllowedMimeTypes());
    gzip.setAllowedMimeTypes(List.copyOf(allowed));
    config.http.compressionStrategy = gzip;
  }

  /**
   * The models the routes know from now on (a config reload changed them); a name no longer among
   * them gets 404.
   */
  public void models(List<ModelConfig> models) {
    known.replace(models);
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
        var unused = connector.shutdown(); // the DrainingHandler's future below is waited on
      }
      try {
        draining.shutdown().get(server.shutdownGraceSeconds(), TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        cut = draining.active();
      } catch (ExecutionException e) {
        log.warn("HTTP - graceful stop failed: {}", String.valueOf(e.getCause()));
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
}
