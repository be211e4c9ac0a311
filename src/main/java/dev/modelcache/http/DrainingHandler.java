package dev.modelcache.http;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.component.Graceful;

/**
 * Counts the requests in flight so that a graceful stop of Jetty waits for them. Unlike Jetty's
 * {@code GracefulHandler}, a request that arrives on an open keep-alive connection while draining
 * is still served (a 503 there would fail a request the client had every reason to send), with
 * {@code Connection: close} so that the client opens no further request on it; new connections are
 * refused by the stopped connector.
 */
final class DrainingHandler extends Handler.Wrapper implements Graceful {
  private final AtomicInteger active = new AtomicInteger();
  private final CompletableFuture<Void> drained = new CompletableFuture<>();
  private volatile boolean draining;

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    active.incrementAndGet();
    if (draining) {
      response.getHeaders().put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
    }
    Callback counted =
        new Callback.Nested(callback) {
          @Override
          public void succeeded() {
            super.succeeded();
            done();
          }

          @Override
          public void failed(Throwable x) {
            super.failed(x);
            done();
          }
        };
    boolean handled;
    try {
      handled = super.handle(request, response, counted);
    } catch (Throwable t) {
      done();
      throw t;
    }
    if (!handled) {
      done();
    }
    return handled;
  }

  /** Requests being handled now. */
  int active() {
    return active.get();
  }

  @Override
  public CompletableFuture<Void> shutdown() {
    draining = true;
    if (active.get() == 0) {
      drained.complete(null);
    }
    return drained;
  }

  @Override
  public boolean isShutdown() {
    return draining;
  }

  private void done() {
    if (active.decrementAndGet() == 0 && draining) {
      drained.complete(null);
    }
  }
}
