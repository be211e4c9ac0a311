package dev.modelcache.source.oci;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jspecify.annotations.Nullable;

/**
 * A front for the real registry on loopback, as a registry's auth or a flaky network would be: with
 * {@link #requireBearer} it answers {@code 401} with a {@code Bearer} challenge whose realm is its
 * own {@code /token} service (which wants a {@code Basic} login), and passes on only requests that
 * carry the token it issued; {@link #cutOnce} closes a blob's body once after some bytes. Every
 * request is recorded: path, {@code Range} and {@code Authorization}.
 */
public final class OciFront implements AutoCloseable {
  public static final String TOKEN = "tok-3f9a1c7e5b";

  /** One request as received. */
  public record Recorded(String path, @Nullable String range, @Nullable String authorization) {}

  private final HttpServer server;
  private final ExecutorService executor;
  private final String upstream;
  private final HttpClient http = HttpClient.newHttpClient();
  private final Map<String, Long> cuts = new ConcurrentHashMap<>();
  private final List<Recorded> requests = Collections.synchronizedList(new ArrayList<>());
  private volatile @Nullable String login; // "user:password" the token service wants

  private OciFront(HttpServer server, ExecutorService executor, String upstream) {
    this.server = server;
    this.executor = executor;
    this.upstream = upstream;
  }

  public static OciFront start(OciRegistry registry) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 16);
    ExecutorService executor = Executors.newFixedThreadPool(8);
    OciFront front = new OciFront(server, executor, "http://" + registry.host());
    server.createContext("/", front::handle);
    server.setExecutor(executor);
    server.start();
    return front;
  }

  public String host() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  public OciFront requireBearer(String user, String password) {
    this.login = user + ":" + password;
    return this;
  }

  /** The next {@code GET} of blob {@code sha256} is cut after {@code after} bytes. */
  public OciFront cutOnce(String sha256, long after) {
    cuts.put("sha256:" + sha256, after);
    return this;
  }

  public List<Recorded> requests() {
    synchronized (requests) {
      return List.copyOf(requests);
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      String authorization = exchange.getRequestHeaders().getFirst("Authorization");
      requests.add(
          new Recorded(path, exchange.getRequestHeaders().getFirst("Range"), authorization));
      String wanted = login;
      if (wanted != null && path.equals("/token")) {
        token(exchange, authorization, wanted);
      } else if (wanted != null && !("Bearer " + TOKEN).equals(authorization)) {
        exchange
            .getResponseHeaders()
            .add(
                "WWW-Authenticate",
                "Bearer realm=\"http://"
                    + host()
                    + "/token\",service=\"front\",scope=\"repository:team/iris:pull\"");
        send(exchange, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
      } else {
        forward(exchange, path);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void token(HttpExchange exchange, @Nullable String authorization, String wanted)
      throws IOException {
    String basic =
        "Basic " + Base64.getEncoder().encodeToString(wanted.getBytes(StandardCharsets.UTF_8));
    if (basic.equals(authorization)) {
      send(exchange, 200, "{\"token\": \"" + TOKEN + "\", \"expires_in\": 300}");
    } else {
      send(exchange, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
    }
  }

  private void forward(HttpExchange exchange, String path)
      throws IOException, InterruptedException {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(upstream + exchange.getRequestURI()))
            .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.noBody());
    for (String header : List.of("Accept", "Range")) {
      String value = exchange.getRequestHeaders().getFirst(header);
      if (value != null) {
        request.header(header, value);
      }
    }
    HttpResponse<InputStream> response =
        http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
    for (String header :
        List.of("Content-Type", "Content-Range", "Docker-Content-Digest", "Accept-Ranges")) {
      response
          .headers()
          .firstValue(header)
          .ifPresent(v -> exchange.getResponseHeaders().add(header, v));
    }
    long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
    String digest = path.substring(path.lastIndexOf('/') + 1);
    Long cut = path.contains("/blobs/") ? cuts.remove(digest) : null;
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(response.statusCode(), head ? -1 : length == 0 ? -1 : length);
    try (InputStream in = response.body();
        OutputStream out = exchange.getResponseBody()) {
      if (cut != null) {
        out.write(in.readNBytes(cut.intValue()));
        out.flush();
        throw new IOException("connection cut by an injected fault"); // the socket is dropped
      }
      in.transferTo(out);
    }
  }

  private static void send(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    exchange.getResponseBody().write(bytes);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
