package dev.modelcache.http;

import dev.modelcache.config.Config.ServerConfig;
import dev.modelcache.inference.MemoryBudget;
import dev.modelcache.metrics.ByteSize;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.metrics.Metrics.Rejection;
import io.javalin.http.Context;
import io.javalin.http.Handler;

/**
 * Admission control of the inference routes ({@code server.limits}): each request reserves its
 * estimated heap in a {@link MemoryBudget} of {@code memory_percent} of the heap before its body is
 * read, and gives it back once its answer is written; one that does not fit is refused at once (503
 * with Retry-After), one that could never fit is a 413.
 *
 * <pre>{@code
 * config.routes.post("/inference", admission.admitted(handler));
 * // in the handler, once a chunked body is read: admission.read(ctx, bytes.length);
 * }</pre>
 */
final class Admission {
  private static final String PERMIT = "modelcache.memory-permit";

  private final ServerConfig server;
  private final long maxHeap;
  private final MemoryBudget budget;
  private final Metrics metrics;

  /** {@code server.max_body_bytes}: past it a body is answered 413 when it is read. */
  long maxBodyBytes() {
    return server.maxBodyBytes();
  }

  Admission(ServerConfig server, long maxHeap, Metrics metrics) {
    this(server, maxHeap, new MemoryBudget(server.limits().memoryBudget(maxHeap)), metrics);
  }

  /** Admission into {@code budget}, which other servers (gRPC) may share. */
  Admission(ServerConfig server, long maxHeap, MemoryBudget budget, Metrics metrics) {
    this.server = server;
    this.maxHeap = maxHeap;
    this.budget = budget;
    this.metrics = metrics;
  }

  /**
   * Admission control of inference routes: before its body is read, a request reserves its
   * estimated heap (its Content-Length times {@code server.limits.body_expansion}; a chunked body
   * first its raw size up to {@code server.max_body_bytes}, then its estimate once read) in the
   * budget of {@code server.limits.memory_percent} of the heap, and gives it back when its answer
   * is ready. Past the budget: 503 with Retry-After at once, so that no combination of valid
   * requests runs the heap out.
   */
  Handler admitted(Handler handler) {
    return ctx -> {
      long declared = ctx.req().getContentLengthLong();
      long reserve =
          declared >= 0 ? cost(declared) : Math.min(server.maxBodyBytes(), budget.capacity());
      if (declared > server.maxBodyBytes()) {
        handler.handle(ctx); // Javalin answers 413 when the body is read, before any parsing
        return;
      }
      if (reserve > budget.capacity()) {
        drain(ctx);
        throw tooLarge(ctx, declared, reserve);
      }
      MemoryBudget.Permit permit = budget.tryAcquire(reserve);
      if (permit == null) {
        drain(ctx);
        throw overBudget(ctx, declared, reserve);
      }
      try (permit) {
        if (declared < 0) {
          // only a chunked body's permit is resized once read (read below); a request attribute
          // costs Jetty's servlet layer a lookup, a store and its listeners' check per request
          ctx.attribute(PERMIT, permit);
        }
        handler.handle(ctx);
      }
    };
  }

  /**
   * Reads a refused request's body into nothing (at most {@code server.max_body_bytes}, no heap
   * kept), so that the client, still sending it, reads the 503 instead of a connection reset.
   */
  private void drain(Context ctx) {
    byte[] buffer = new byte[16 * 1024];
    long left = server.maxBodyBytes();
    try (java.io.InputStream in = ctx.req().getInputStream()) {
      for (int n; left > 0 && (n = in.read(buffer, 0, (int) Math.min(buffer.length, left))) > 0; ) {
        left -= n;
      }
    } catch (java.io.IOException e) {
      // the client went away: nobody reads the answer
    }
  }

  private long cost(long bodyBytes) {
    return Math.max(bodyBytes, 1024) * server.limits().bodyExpansion();
  }

  private HttpError tooLarge(Context ctx, long bodyBytes, long cost) {
    metrics.rejected(Rejection.TOO_LARGE);
    return new HttpError(
        413,
        subject(ctx)
            + " - this request's body of "
            + bodyBytes
            + " bytes needs an estimated "
            + ByteSize.mib(cost)
            + " of heap ("
            + bodyBytes
            + " bytes x server.limits.body_expansion "
            + server.limits().bodyExpansion()
            + "), more than the whole budget for requests in flight ("
            + budgetDescription()
            + "); send fewer inputs per request, or give the JVM more heap (-Xmx,"
            + " MODELCACHE_OPTS)");
  }

  private HttpError overBudget(Context ctx, long bodyBytes, long cost) {
    metrics.rejected(Rejection.MEMORY);
    return new HttpError(
        503,
        subject(ctx)
            + " - the requests in flight hold an estimated "
            + ByteSize.mib(budget.used())
            + " of the budget for requests in flight ("
            + budgetDescription()
            + "), and this one ("
            + (bodyBytes < 0 ? "a chunked body" : bodyBytes + " bytes")
            + ") needs an estimated "
            + ByteSize.mib(cost)
            + "; retry after "
            + ErrorMapping.QUEUE_FULL_RETRY_AFTER_SECONDS
            + " s, send fewer inputs per request, or raise server.limits.memory_percent or the"
            + " heap");
  }

  private String budgetDescription() {
    return ByteSize.mib(budget.capacity())
        + ": server.limits.memory_percent "
        + server.limits().memoryPercent()
        + " % of the "
        + ByteSize.mib(maxHeap)
        + " heap";
  }

  private static String subject(Context ctx) {
    String model = ctx.pathParamMap().get("model");
    return model != null ? model : ctx.method() + " " + ctx.path();
  }

  /**
   * A chunked body was read: it was admitted for its raw bytes, and now that its size is known it
   * takes its estimated cost (413 or 503 when that does not fit). Nothing to do for a declared
   * size, or outside an admitted route.
   */
  void read(Context ctx, long bodyBytes) {
    if (ctx.req().getContentLengthLong() >= 0) {
      return;
    }
    MemoryBudget.Permit permit = ctx.attribute(PERMIT);
    if (permit != null) {
      long cost = cost(bodyBytes);
      if (cost > budget.capacity()) {
        throw tooLarge(ctx, bodyBytes, cost);
      }
      if (!permit.resize(cost)) {
        throw overBudget(ctx, bodyBytes, cost);
      }
    }
  }
}
