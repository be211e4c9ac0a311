package dev.modelcache.grpc;

import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.grpc.proto.GRPCInferenceServiceGrpc;
import dev.modelcache.inference.MemoryBudget;
import dev.modelcache.inference.ModelRegistry;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.threads.NamedThreads;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Open Inference Protocol v2 over gRPC ({@code inference.GRPCInferenceService}) on {@code
 * server.host} and {@code server.grpc.port}: the same models, token, memory budget and metrics as
 * the HTTP server beside it. Messages are limited to {@code server.max_body_bytes}, as HTTP bodies
 * are. {@link #stop()} drains: no new calls, then up to {@code server.shutdown_grace_seconds} for
 * the calls in flight.
 *
 * <pre>{@code
 * try (GrpcServer grpc = new GrpcServer(config.server(), registry, states, budget, metrics).start()) {
 *   int port = grpc.port();
 * }
 * }</pre>
 */
public final class GrpcServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

  /** Threads that run calls; more calls wait for one (each still bound by its deadline). */
  static final int THREADS = 64;

  private final ServerConfig server;
  private final CallTracker tracker;
  private final NamedThreads threads = NamedThreads.numbered("modelcache-grpc");
  private final ThreadPoolExecutor executor;
  private final Server grpc;

  public GrpcServer(
      ServerConfig server,
      ModelRegistry registry,
      ModelStates states,
      MemoryBudget budget,
      Metrics metrics) {
    this.server = server;
    this.tracker = new CallTracker(metrics);
    this.executor =
        new ThreadPoolExecutor(
            THREADS, THREADS, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), threads);
    executor.allowCoreThreadTimeOut(true);
    BearerInterceptor auth =
        new BearerInterceptor(
            server, Set.of(GRPCInferenceServiceGrpc.getModelInferMethod().getFullMethodName()));
    this.grpc =
        NettyServerBuilder.forAddress(new InetSocketAddress(server.host(), server.grpc().port()))
            .executor(executor)
            .maxInboundMessageSize((int) Math.min(server.maxBodyBytes(), Integer.MAX_VALUE))
            // interceptors run last-added first: the tracker sees every call, refused ones too
            .addService(
                ServerInterceptors.intercept(
                    new InferenceService(server, registry, states, budget, metrics), auth, tracker))
            .build();
    metrics.bindGrpc(tracker::active);
  }

  /** Starts listening; {@link #port()} then tells the bound port (useful with port 0). */
  public GrpcServer start() {
    try {
      grpc.start();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "gRPC cannot listen on "
              + server.host()
              + ":"
              + server.grpc().port()
              + " (server.grpc.port, MODELCACHE_GRPC_PORT): "
              + e.getMessage(),
          e);
    }
    log.info(
        "gRPC listening on {}:{}{}",
        server.host(),
        grpc.getPort(),
        server.token() == null
            ? ""
            : " (ModelInfer requires the bearer token from " + server.tokenEnv() + ")");
    return this;
  }

  public int port() {
    return grpc.getPort();
  }

  /** Calls being handled right now. */
  public int activeCalls() {
    return tracker.active();
  }

  /** Stops taking new calls; those in flight go on ({@link #stop()} waits for them). */
  public void beginStop() {
    grpc.shutdown();
  }

  /**
   * Stops gracefully: no new calls, then up to {@code server.shutdown_grace_seconds} for the calls
   * in flight, then the rest are cancelled.
   *
   * @return true when every call in flight finished within the grace period
   */
  public boolean stop() {
    grpc.shutdown();
    boolean drained;
    try {
      drained = grpc.awaitTermination(server.shutdownGraceSeconds(), TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      drained = false;
    }
    int cut = tracker.active();
    if (!drained) {
      // Cancels the calls left: their contexts are cancelled on the executor, which must still
      // run, and that interrupts their waits for a model (DeadlineWatch).
      grpc.shutdownNow();
      if (cut > 0) {
        log.warn(
            "gRPC - {} calls were still running when the grace period of {} s"
                + " (server.shutdown_grace_seconds) ended; they were cancelled",
            cut,
            server.shutdownGraceSeconds());
      }
      awaitTermination();
    }
    threads.stop(executor, NamedThreads.STOP_WAIT, log);
    return drained || cut == 0;
  }

  private void awaitTermination() {
    try {
      if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn("gRPC - connections still open 5 s after they were closed; leaving them");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    stop();
  }
}
