package dev.modelcache.source.url;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A plain file server on loopback for {@code url} sources: {@code GET}/{@code HEAD} of {@code
 * /files/{name}} with single byte ranges ({@code 206}, {@code 416}), redirects from {@code
 * /moved/{name}} to the same file under another host name ({@code localhost} for {@code
 * 127.0.0.1}), and faults injected once per name: a body cut after some bytes, a flipped byte.
 * {@code HEAD} may be refused (405) and ranges switched off, as some servers do.
 *
 * <pre>{@code
 * try (FakeFiles server = FakeFiles.start()) {
 *   server.put("model.pt", bytes);
 *   String url = server.url("model.pt"); // http://127.0.0.1:{port}/files/model.pt
 * }
 * }</pre>
 */
public final class FakeFiles implements AutoCloseable {
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d*)");

  /** One request as received: the {@code Host} header's name, method, path and headers. */
  public record Recorded(
      String host, String method, String path, Map<String, List<String>> headers) {}

  private final HttpServer server;
  private final ExecutorService executor;
  private final Map<String, byte[]> files = new ConcurrentHashMap<>();
  private final Map<String, long[]> cuts = new ConcurrentHashMap<>();
  private final Map<String, Boolean> flips = new ConcurrentHashMap<>();
  private final Map<String, Integer> statuses = new ConcurrentHashMap<>();
  private final List<Recorded> requests = Collections.synchronizedList(new ArrayList<>());
  private final AtomicLong bodyBytes = new AtomicLong();
  private volatile boolean ranges = true;
  private volatile boolean head = true;

  private FakeFiles(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  public static FakeFiles start() throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 16);
    ExecutorService executor =
        Executors.newFixedThreadPool(
            8,
            r -> {
              Thread thread = new Thread(r, "fake-files");
              thread.setDaemon(true);
              return thread;
            });
    FakeFiles files = new FakeFiles(server, executor);
    server.createContext("/", files::handle);
    server.setExecutor(executor);
    server.start();
    return files;
  }

  public FakeFiles put(String name, byte[] content) {
    files.put(name, content.clone());
    return this;
  }

  /** {@code http://127.0.0.1:{port}/files/{name}}. */
  public String url(String name) {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/files/" + name;
  }

  /** A URL that redirects (302) to {@code name} under the host name {@code localhost}. */
  public String movedUrl(String name) {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/moved/" + name;
  }

  /** The next body of {@code name} is cut after {@code afterBytes} (its connection dropped). */
  public void cutOnce(String name, long afterBytes) {
    cutOnce(name, afterBytes, 0);
  }

  /** As {@link #cutOnce(String, long)}, for the body after the next {@code skip} ones. */
  public void cutOnce(String name, long afterBytes, int skip) {
    cuts.put(name, new long[] {afterBytes, skip});
  }

  /** The next request for {@code name} answers {@code status} with {@code Retry-After: 7}. */
  public void failOnce(String name, int status) {
    statuses.put(name, status);
  }

  /** Every body of {@code name} has its middle byte flipped from now on. */
  public void wrongBytes(String name) {
    flips.put(name, true);
  }

  public void ranges(boolean on) {
    ranges = on;
  }

  /** false: {@code HEAD} answers 405, as servers (and signed URLs) that allow only GET do. */
  public void head(boolean on) {
    head = on;
  }

  public List<Recorded> requests() {
    return List.copyOf(requests);
  }

  /** Body bytes sent so far, all files together. */
  public long bodyBytes() {
    return bodyBytes.get();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getRawPath();
    String method = exchange.getRequestMethod();
    String host = exchange.getRequestHeaders().getFirst("Host");
    requests.add(
        new Recorded(
            host == null ? "" : host.replaceFirst(":\\d+$", "").toLowerCase(Locale.ROOT),
            method,
            path,
            Map.copyOf(exchange.getRequestHeaders())));
    if (path.startsWith("/moved/")) {
      String to =
          "http://localhost:" + server.getAddress().getPort() + "/files/" + path.substring(7);
      exchange.getResponseHeaders().set("Location", to);
      exchange.sendResponseHeaders(302, -1);
    } else {
      byte[] content = path.startsWith("/files/") ? files.get(path.substring(7)) : null;
      Integer status = statuses.remove(path.substring(path.lastIndexOf('/') + 1));
      if (status != null) {
        exchange.getResponseHeaders().set("Retry-After", "7");
        exchange.sendResponseHeaders(status, -1);
      } else if (content == null) {
        exchange.sendResponseHeaders(404, -1);
      } else if (method.equals("HEAD") && !head) {
        exchange.getResponseHeaders().set("Allow", "GET");
        exchange.sendResponseHeaders(405, -1);
      } else {
        send(exchange, path.substring(7), content); // throws, the exchange left open, on a cut
      }
    }
    exchange.close();
  }

  private Long takeCut(String name) {
    long[] cut = cuts.get(name);
    if (cut == null) {
      return null;
    }
    if (cut[1]-- > 0) {
      return null;
    }
    cuts.remove(name);
    return cut[0];
  }

  private void send(HttpExchange exchange, String name, byte[] content) throws IOException {
    if (ranges) {
      exchange.getResponseHeaders().set("Accept-Ranges", "bytes");
    }
    String range = exchange.getRequestHeaders().getFirst("Range");
    Matcher matcher = range == null || !ranges ? null : RANGE.matcher(range);
    int start = 0;
    int end = content.length;
    int status = 200;
    if (matcher != null && matcher.matches()) {
      start = Integer.parseInt(matcher.group(1));
      if (start >= content.length) {
        exchange.getResponseHeaders().set("Content-Range", "bytes */" + content.length);
        exchange.sendResponseHeaders(416, -1);
        return;
      }
      end =
          matcher.group(2).isEmpty()
              ? content.length
              : Math.min(content.length, Integer.parseInt(matcher.group(2)) + 1);
      status = 206;
      exchange
          .getResponseHeaders()
          .set("Content-Range", "bytes " + start + "-" + (end - 1) + "/" + content.length);
    }
    if (exchange.getRequestMethod().equals("HEAD")) {
      exchange.getResponseHeaders().set("Content-Length", Integer.toString(end - start));
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    byte[] body = java.util.Arrays.copyOfRange(content, start, end);
    if (flips.containsKey(name) && content.length / 2 >= start && content.length / 2 < end) {
      body[content.length / 2 - start] ^= 1;
    }
    exchange.sendResponseHeaders(status, body.length);
    OutputStream out = exchange.getResponseBody();
    Long cut = takeCut(name);
    int length = cut == null ? body.length : (int) Math.min(body.length, cut);
    out.write(body, 0, length);
    out.flush();
    bodyBytes.addAndGet(length);
    if (cut != null) {
      throw new IOException("connection cut by an injected fault"); // the server drops the socket
    }
  }
}
