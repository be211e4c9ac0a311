package dev.modelcache;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A listener on 127.0.0.1 that accepts and counts every connection and answers nothing: point an
 * endpoint at it to prove that no connection is ever made.
 *
 * <p>{@link #connections()} is exact without sleeping: it connects a sentinel that sends one zero
 * byte and waits until the acceptor has taken it; connections are accepted in arrival order, so by
 * then every earlier one has been counted.
 */
public final class LoopbackCounter implements AutoCloseable {
  private static final int SENTINEL = 0;
  private final ServerSocket server;
  private final AtomicInteger accepted = new AtomicInteger();
  private final Thread acceptor;
  private volatile CountDownLatch sentinelSeen = new CountDownLatch(1);

  public LoopbackCounter() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    acceptor = new Thread(this::acceptAll, "loopback-counter");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** {@code http://127.0.0.1:<port>}. */
  public String endpoint() {
    return "http://127.0.0.1:" + server.getLocalPort();
  }

  /** How many connections were made so far, not counting the sentinels of this class. */
  public int connections() {
    CountDownLatch seen = new CountDownLatch(1);
    sentinelSeen = seen;
    try (Socket sentinel = new Socket(InetAddress.getByName("127.0.0.1"), server.getLocalPort())) {
      OutputStream out = sentinel.getOutputStream();
      out.write(SENTINEL);
      out.flush();
      if (!seen.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the acceptor did not take the sentinel within 30 s");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    return accepted.get();
  }

  private void acceptAll() {
    while (!server.isClosed()) {
      try (Socket socket = server.accept()) {
        socket.setSoTimeout(2000);
        int first;
        try {
          InputStream in = socket.getInputStream();
          first = in.read();
        } catch (SocketTimeoutException e) {
          first = -2; // connected and sent nothing: still a connection
        }
        if (first == SENTINEL) {
          sentinelSeen.countDown();
        } else {
          accepted.incrementAndGet();
        }
      } catch (SocketException e) {
        return; // closed
      } catch (IOException e) {
        accepted.incrementAndGet();
      }
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
