package dev.modelcache.source.s3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy on 127.0.0.1 in front of a real S3 server that can spoil chosen requests: answer one
 * with an error of its own (503 SlowDown, an expired token) or cut its response after some bytes.
 * Each connection carries one request ({@code Connection: close} is forced), so every request is
 * seen; signatures stay valid since neither the Host header nor any signed header changes.
 *
 * <pre>{@code
 * try (FaultProxy proxy = FaultProxy.start(s3.port())) {
 *   proxy.fault(FaultProxy.cut("GET", "/bucket/m/model.bin", 100_000)); // once
 *   // point the client at proxy.endpoint(), then look at proxy.requests()
 * }
 * }</pre>
 */
public final class FaultProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int upstreamPort;
  private final ExecutorService threads = Executors.newCachedThreadPool(FaultProxy::daemon);
  private final Queue<Fault> faults = new ConcurrentLinkedQueue<>();
  private final List<String> requests = Collections.synchronizedList(new ArrayList<>());

  /** What to do to the next request whose method and path match (once). */
  public record Fault(
      String method,
      String pathPrefix,
      int status,
      String code,
      long cutAfter,
      String replace,
      String with) {}

  /** Answers the next matching request with {@code status} and an S3 error {@code code}. */
  public static Fault error(String method, String pathPrefix, int status, String code) {
    return new Fault(method, pathPrefix, status, code, -1, null, null);
  }

  /**
   * Rewrites the next matching response's body, replacing {@code replace} by {@code with}: what a
   * hostile or broken server could send.
   */
  public static Fault rewrite(String method, String pathPrefix, String replace, String with) {
    return new Fault(method, pathPrefix, 0, null, Long.MAX_VALUE, replace, with);
  }

  /**
   * Adds {@code headerLine} (such as {@code x-goog-hash: crc32c=AAAAAA==}) to the head of the next
   * matching response, its body untouched.
   */
  public static Fault header(String method, String pathPrefix, String headerLine) {
    return new Fault(method, pathPrefix, 0, HEADER, Long.MAX_VALUE, null, headerLine);
  }

  private static final String HEADER = "(add a header)";

  /**
   * Cuts the response to the next matching request after {@code bytes} bytes (headers included).
   */
  public static Fault cut(String method, String pathPrefix, long bytes) {
    return new Fault(method, pathPrefix, 0, null, bytes, null, null);
  }

  private FaultProxy(int upstreamPort) throws IOException {
    this.upstreamPort = upstreamPort;
    this.server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    threads.execute(this::accept);
  }

  public static FaultProxy start(int upstreamPort) throws IOException {
    return new FaultProxy(upstreamPort);
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  public void fault(Fault fault) {
    faults.add(fault);
  }

  /** Every request seen: {@code "GET /bucket/key?query range=bytes=0-9"}. */
  public List<String> requests() {
    synchronized (requests) {
      return List.copyOf(requests);
    }
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        threads.execute(() -> handle(client));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void handle(Socket client) {
    try (client) {
      InputStream in = client.getInputStream();
      byte[] head = readHead(in);
      if (head == null) {
        return;
      }
      String text = new String(head, StandardCharsets.ISO_8859_1);
      String[] lines = text.split("\r\n");
      String[] requestLine = lines[0].split(" ");
      String method = requestLine[0];
      String path = requestLine.length > 1 ? requestLine[1] : "";
      String range = "";
      StringBuilder rewritten = new StringBuilder(lines[0]).append("\r\n");
      for (int i = 1; i < lines.length; i++) {
        String lower = lines[i].toLowerCase(Locale.ROOT);
        if (lower.startsWith("range:")) {
          range = " range=" + lines[i].substring(6).strip();
        }
        if (!lower.startsWith("connection:") && !lines[i].isEmpty()) {
          rewritten.append(lines[i]).append("\r\n");
        }
      }
      rewritten.append("Connection: close\r\n\r\n");
      requests.add(method + " " + path + range);
      Fault fault = take(method, path);
      OutputStream out = client.getOutputStream();
      if (fault != null && fault.cutAfter() < 0) {
        byte[] body =
            ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                    + fault.code()
                    + "</Code><Message>injected by FaultProxy</Message><RequestId>0</RequestId></Error>")
                .getBytes(StandardCharsets.UTF_8);
        String response =
            "HTTP/1.1 "
                + fault.status()
                + " Injected\r\nContent-Type: application/xml\r\nContent-Length: "
                + (method.equals("HEAD") ? 0 : body.length)
                + "\r\nConnection: close\r\n\r\n";
        out.write(response.getBytes(StandardCharsets.ISO_8859_1));
        if (!method.equals("HEAD")) {
          out.write(body);
        }
        out.flush();
        return;
      }
      try (Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort)) {
        upstream
            .getOutputStream()
            .write(rewritten.toString().getBytes(StandardCharsets.ISO_8859_1));
        upstream.getOutputStream().flush();
        threads.execute(() -> pipe(in, upstream));
        InputStream back = upstream.getInputStream();
        if (fault != null && HEADER.equals(fault.code())) {
          byte[] all = back.readAllBytes();
          int line = new String(all, StandardCharsets.ISO_8859_1).indexOf("\r\n") + 2;
          out.write(all, 0, line);
          out.write((fault.with() + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
          out.write(all, line, all.length - line);
          out.flush();
          return;
        }
        if (fault != null && fault.replace() != null) {
          out.write(rewritten(back.readAllBytes(), fault.replace(), fault.with()));
          out.flush();
          return;
        }
        long limit = fault == null ? Long.MAX_VALUE : fault.cutAfter();
        long sent = 0;
        byte[] buffer = new byte[16384];
        int n;
        while (sent < limit
            && (n = back.read(buffer, 0, (int) Math.min(buffer.length, limit - sent))) >= 0) {
          out.write(buffer, 0, n);
          sent += n;
        }
        out.flush();
      }
    } catch (IOException e) {
      // the client or the server went away: nothing to report
    }
  }

  /** A whole response with its body rewritten, de-chunked, its Content-Length set. */
  private static byte[] rewritten(byte[] response, String replace, String with) {
    String text = new String(response, StandardCharsets.UTF_8);
    int split = text.indexOf("\r\n\r\n");
    String[] head = text.substring(0, split).split("\r\n");
    String body = text.substring(split + 4);
    StringBuilder out = new StringBuilder(head[0]).append("\r\n");
    boolean chunked = false;
    for (int i = 1; i < head.length; i++) {
      String lower = head[i].toLowerCase(Locale.ROOT);
      chunked |= lower.startsWith("transfer-encoding:") && lower.contains("chunked");
      if (!lower.startsWith("transfer-encoding:") && !lower.startsWith("content-length:")) {
        out.append(head[i]).append("\r\n");
      }
    }
    if (chunked) {
      StringBuilder plain = new StringBuilder();
      int at = 0;
      while (true) {
        int eol = body.indexOf("\r\n", at);
        int size = Integer.parseInt(body.substring(at, eol).split(";")[0].strip(), 16);
        if (size == 0) {
          break;
        }
        // sizes count bytes; the listing is ASCII, so characters are bytes
        plain.append(body, eol + 2, eol + 2 + size);
        at = eol + 2 + size + 2;
      }
      body = plain.toString();
    }
    byte[] bytes = body.replace(replace, with).getBytes(StandardCharsets.UTF_8);
    out.append("Content-Length: ").append(bytes.length).append("\r\n\r\n");
    byte[] headBytes = out.toString().getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[headBytes.length + bytes.length];
    System.arraycopy(headBytes, 0, all, 0, headBytes.length);
    System.arraycopy(bytes, 0, all, headBytes.length, bytes.length);
    return all;
  }

  /** Copies a request body (PUTs) to the server until either side closes. */
  private static void pipe(InputStream in, Socket upstream) {
    try {
      in.transferTo(upstream.getOutputStream());
    } catch (IOException e) {
      // closed
    }
  }

  private Fault take(String method, String path) {
    for (Fault fault : faults) {
      if (fault.method().equals(method) && path.startsWith(fault.pathPrefix())) {
        if (faults.remove(fault)) {
          return fault;
        }
      }
    }
    return null;
  }

  private static byte[] readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int state = 0;
    while (head.size() < 65536) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      state =
          (b == '\r' && (state == 0 || state == 2))
              ? state + 1
              : (b == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
      if (state == 4) {
        return head.toByteArray();
      }
    }
    return null;
  }

  private static Thread daemon(Runnable task) {
    Thread thread = new Thread(task, "fault-proxy");
    thread.setDaemon(true);
    return thread;
  }

  @Override
  public void close() throws IOException {
    server.close();
    threads.shutdownNow();
    try {
      threads.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
