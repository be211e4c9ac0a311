package dev.modelcache.source.gcs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * A faithful fake of Cloud Storage's JSON API on 127.0.0.1 (no GCS emulator is reachable from this
 * build's package registries): object listing ({@code GET /storage/v1/b/{bucket}/o?prefix=} with
 * {@code maxResults} pages chained by {@code nextPageToken}/{@code pageToken}), object metadata
 * ({@code size}, {@code generation}, {@code md5Hash}, {@code crc32c}, {@code etag} as strings, as
 * GCS writes them), media ({@code alt=media}, {@code generation} pinned, {@code Range} answered 206
 * or 416, {@code x-goog-hash} and {@code x-goog-generation} headers), and an OAuth token endpoint
 * ({@code POST /token}) that mints a token for a service account's JWT assertion. Faults: a body
 * cut after some bytes, bytes corrupted while the metadata keeps the true hashes, a Bearer token
 * required.
 *
 * <pre>{@code
 * try (FakeGcs gcs = FakeGcs.start()) {
 *   gcs.put("models", "zoo/iris/model.pt", bytes);
 *   // point sources.gcs.json_endpoint at gcs.endpoint()
 * }
 * }</pre>
 */
public final class FakeGcs implements AutoCloseable {
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d*)");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One stored object. */
  public record StoredObject(byte[] bytes, long generation, boolean composite) {}

  /** One request: method, path and query as sent, its Range, its Authorization. */
  public record Recorded(String method, String target, String range, String authorization) {}

  private final HttpServer server;
  private final ExecutorService executor;
  private final Map<String, StoredObject> objects = new ConcurrentHashMap<>();
  private final Map<String, Long> cuts = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> corrupt = new ConcurrentHashMap<>();
  private final List<Recorded> requests = Collections.synchronizedList(new ArrayList<>());
  private final List<String> assertions = Collections.synchronizedList(new ArrayList<>());
  private final List<String> minted = Collections.synchronizedList(new ArrayList<>());
  private final AtomicLong generations = new AtomicLong(1_700_000_000_000_000L);
  private volatile int pageSize = 2;
  private volatile boolean requireBearer;

  private FakeGcs(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  public static FakeGcs start() throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 32);
    ExecutorService executor =
        Executors.newFixedThreadPool(
            8,
            r -> {
              Thread thread = new Thread(r, "fake-gcs");
              thread.setDaemon(true);
              return thread;
            });
    FakeGcs gcs = new FakeGcs(server, executor);
    server.createContext("/", gcs::handle);
    server.setExecutor(executor);
    server.start();
    return gcs;
  }

  /** {@code http://127.0.0.1:{port}}: the JSON API's root. */
  public String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Where the fake mints OAuth tokens (a service account key's {@code token_uri}). */
  public String tokenUri() {
    return endpoint() + "/token";
  }

  /** Stores {@code bytes} as a new generation of {@code bucket}/{@code name}. */
  public FakeGcs put(String bucket, String name, byte[] bytes) {
    return put(bucket, name, bytes, false);
  }

  /** As {@link #put}; a composite object has a CRC32C but no MD5, as in GCS. */
  public FakeGcs put(String bucket, String name, byte[] bytes, boolean composite) {
    objects.put(
        bucket + "/" + name,
        new StoredObject(bytes.clone(), generations.incrementAndGet(), composite));
    return this;
  }

  public StoredObject object(String bucket, String name) {
    return objects.get(bucket + "/" + name);
  }

  /**
   * The next media body of {@code name} is cut after {@code afterBytes} (its connection dropped).
   */
  public void cutOnce(String name, long afterBytes) {
    cuts.put(name, afterBytes);
  }

  /**
   * The next {@code times} media bodies of {@code name} have a byte flipped; metadata unchanged.
   */
  public void corrupt(String name, int times) {
    corrupt.put(name, new AtomicInteger(times));
  }

  /** Objects per listing page (2 unless set), so that small listings page too. */
  public void pageSize(int size) {
    pageSize = size;
  }

  /** true: every API request needs {@code Authorization: Bearer <a token this fake minted>}. */
  public void requireBearer(boolean on) {
    requireBearer = on;
  }

  public List<Recorded> requests() {
    return List.copyOf(requests);
  }

  /**
   * Writes a service account key file (a fresh RSA key; {@code token_uri} this fake's) to {@code
   * file}, as {@code GOOGLE_APPLICATION_CREDENTIALS} names one; returns its private key's base64.
   */
  public String writeServiceAccount(java.nio.file.Path file) throws Exception {
    java.security.KeyPairGenerator generator = java.security.KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    byte[] pkcs8 = generator.generateKeyPair().getPrivate().getEncoded();
    String base64 =
        Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(pkcs8);
    ObjectNode key =
        JSON.createObjectNode()
            .put("type", "service_account")
            .put("project_id", "test-project")
            .put("private_key_id", "0123456789abcdef")
            .put(
                "private_key",
                "-----BEGIN PRIVATE KEY-----\n" + base64 + "\n-----END PRIVATE KEY-----\n")
            .put("client_email", "modelcache@test-project.iam.gserviceaccount.com")
            .put("client_id", "123456789")
            .put("token_uri", tokenUri());
    java.nio.file.Files.write(file, JSON.writeValueAsBytes(key));
    return base64.replace("\n", "");
  }

  /** The JWT assertions the token endpoint received. */
  public List<String> assertions() {
    return List.copyOf(assertions);
  }

  /** The tokens minted so far. */
  public List<String> minted() {
    return List.copyOf(minted);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    respond(exchange); // throws, the exchange left open (its socket dropped), on a cut
    exchange.close();
  }

  private void respond(HttpExchange exchange) throws IOException {
    {
      String path = exchange.getRequestURI().getRawPath();
      String authorization = exchange.getRequestHeaders().getFirst("Authorization");
      String range = exchange.getRequestHeaders().getFirst("Range");
      String query = exchange.getRequestURI().getRawQuery();
      requests.add(
          new Recorded(
              exchange.getRequestMethod(),
              path + (query == null ? "" : "?" + query),
              range == null ? "" : range,
              authorization == null ? "" : authorization));
      if (path.equals("/token") && exchange.getRequestMethod().equals("POST")) {
        token(exchange);
        return;
      }
      if (requireBearer
          && (authorization == null
              || !authorization.startsWith("Bearer ")
              || !minted.contains(authorization.substring(7)))) {
        error(exchange, 401, "Invalid Credentials");
        return;
      }
      Map<String, String> params = params(query);
      String[] parts = path.split("/", 7); // "", storage, v1, b, {bucket}, o, {name}
      if (parts.length < 6 || !path.startsWith("/storage/v1/b/") || !parts[5].equals("o")) {
        error(exchange, 404, "Not Found");
        return;
      }
      String bucket = decode(parts[4]);
      if (parts.length == 6 || parts[6].isEmpty()) {
        list(exchange, bucket, params);
      } else {
        object(exchange, bucket, decode(parts[6]), params);
      }
    }
  }

  private void token(HttpExchange exchange) throws IOException {
    Map<String, String> form =
        params(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
    String assertion = form.get("assertion");
    if (!"urn:ietf:params:oauth:grant-type:jwt-bearer".equals(form.get("grant_type"))
        || assertion == null
        || assertion.split("\\.").length != 3) {
      error(exchange, 400, "invalid_grant");
      return;
    }
    assertions.add(assertion);
    String token = "ya29.fake-" + (minted.size() + 1);
    minted.add(token);
    send(
        exchange,
        200,
        JSON.createObjectNode()
            .put("access_token", token)
            .put("expires_in", 3600)
            .put("token_type", "Bearer"));
  }

  private void list(HttpExchange exchange, String bucket, Map<String, String> params)
      throws IOException {
    String prefix = params.getOrDefault("prefix", "");
    TreeMap<String, StoredObject> matching = new TreeMap<>();
    objects.forEach(
        (key, value) -> {
          if (key.startsWith(bucket + "/" + prefix)) {
            matching.put(key.substring(bucket.length() + 1), value);
          }
        });
    if (matching.isEmpty()
        && objects.keySet().stream().noneMatch(k -> k.startsWith(bucket + "/"))) {
      error(exchange, 404, "The specified bucket does not exist.");
      return;
    }
    String after = params.get("pageToken");
    List<String> names =
        new ArrayList<>(
            after == null
                ? matching.keySet()
                : matching.tailMap(decodeToken(after), false).keySet());
    ObjectNode answer = JSON.createObjectNode().put("kind", "storage#objects");
    ArrayNode items = answer.putArray("items");
    for (String name : names.subList(0, Math.min(pageSize, names.size()))) {
      items.add(metadata(bucket, name, matching.get(name)));
    }
    if (names.size() > pageSize) {
      answer.put(
          "nextPageToken",
          Base64.getEncoder()
              .encodeToString(names.get(pageSize - 1).getBytes(StandardCharsets.UTF_8)));
    }
    send(exchange, 200, answer);
  }

  private void object(HttpExchange exchange, String bucket, String name, Map<String, String> params)
      throws IOException {
    StoredObject object = objects.get(bucket + "/" + name);
    String generation = params.get("generation");
    if (object == null
        || (generation != null && !generation.equals(Long.toString(object.generation())))) {
      error(exchange, 404, "No such object: " + bucket + "/" + name);
      return;
    }
    if (!"media".equals(params.get("alt"))) {
      send(exchange, 200, metadata(bucket, name, object));
      return;
    }
    media(exchange, name, object);
  }

  private void media(HttpExchange exchange, String name, StoredObject object) throws IOException {
    byte[] content = object.bytes();
    String range = exchange.getRequestHeaders().getFirst("Range");
    Matcher matcher = range == null ? null : RANGE.matcher(range);
    int start = 0;
    int end = content.length;
    int status = 200;
    exchange.getResponseHeaders().set("x-goog-generation", Long.toString(object.generation()));
    if (matcher != null && matcher.matches()) {
      start = Integer.parseInt(matcher.group(1));
      if (start >= content.length) {
        exchange.getResponseHeaders().set("Content-Range", "bytes */" + content.length);
        error(exchange, 416, "The requested range cannot be satisfied.");
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
    } else {
      exchange.getResponseHeaders().add("x-goog-hash", "crc32c=" + crc32c(content));
      if (!object.composite()) {
        exchange.getResponseHeaders().add("x-goog-hash", "md5=" + md5(content));
      }
    }
    exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
    byte[] body = Arrays.copyOfRange(content, start, end);
    AtomicInteger spoil = corrupt.get(name);
    if (spoil != null && spoil.getAndDecrement() > 0 && body.length > 0) {
      body[body.length / 2] ^= 1;
    }
    exchange.sendResponseHeaders(status, body.length);
    OutputStream out = exchange.getResponseBody();
    Long cut = cuts.remove(name);
    int length = cut == null ? body.length : (int) Math.min(body.length, cut);
    out.write(body, 0, length);
    out.flush();
    if (cut != null) {
      throw new IOException("connection cut by an injected fault"); // the server drops the socket
    }
  }

  private ObjectNode metadata(String bucket, String name, StoredObject object) {
    ObjectNode node =
        JSON.createObjectNode()
            .put("kind", "storage#object")
            .put("id", bucket + "/" + name + "/" + object.generation())
            .put("name", name)
            .put("bucket", bucket)
            .put("generation", Long.toString(object.generation()))
            .put("metageneration", "1")
            .put("contentType", "application/octet-stream")
            .put("size", Long.toString(object.bytes().length))
            .put("crc32c", crc32c(object.bytes()))
            .put("etag", "CL" + Long.toHexString(object.generation()) + "=");
    if (!object.composite()) {
      node.put("md5Hash", md5(object.bytes()));
    } else {
      node.put("componentCount", 2);
    }
    return node;
  }

  /** Base64 of the big-endian CRC32C, as GCS writes it. */
  public static String crc32c(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    return Base64.getEncoder()
        .encodeToString(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
  }

  /** Base64 of the MD5, as GCS writes it. */
  public static String md5(byte[] bytes) {
    try {
      return Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void error(HttpExchange exchange, int status, String message) throws IOException {
    ObjectNode answer = JSON.createObjectNode();
    answer.putObject("error").put("code", status).put("message", message);
    send(exchange, status, answer);
  }

  private static void send(HttpExchange exchange, int status, ObjectNode json) throws IOException {
    byte[] body = JSON.writeValueAsBytes(json);
    exchange.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
    exchange.sendResponseHeaders(status, body.length);
    exchange.getResponseBody().write(body);
  }

  private static Map<String, String> params(String query) {
    Map<String, String> params = new LinkedHashMap<>();
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        params.put(
            decode(eq < 0 ? pair : pair.substring(0, eq)),
            eq < 0 ? "" : decode(pair.substring(eq + 1)));
      }
    }
    return params;
  }

  private static String decode(String text) {
    return URLDecoder.decode(text, StandardCharsets.UTF_8);
  }

  private static String decodeToken(String token) {
    return new String(Base64.getDecoder().decode(token), StandardCharsets.UTF_8);
  }
}
