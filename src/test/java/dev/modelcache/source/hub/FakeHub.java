package dev.modelcache.source.hub;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * A faithful fake of the HuggingFace Hub's download protocol, for tests: the revision and tree
 * APIs, {@code /resolve} redirects (LFS files to a CDN on another host name, plain git files
 * through a relative {@code /api/resolve-cache} redirect), byte ranges, the Hub's {@code
 * X-Error-Code}/{@code X-Error-Message} headers, a bearer-token gate, gated repos and one-shot
 * faults. Bodies are streamed, so a file staged from disk is never held in memory.
 *
 * <pre>{@code
 * try (FakeHub hub = FakeHub.start()) {
 *   String commit =
 *       hub.repo("org/name")
 *           .file("config.json", "{}".getBytes(UTF_8), false)
 *           .file("model.safetensors", Path.of("big.bin"), true)
 *           .commit(); // also creates "main"
 *   hub.fault(Fault.cut("/lfs/", 1024)); // the next CDN download stops after 1 KiB
 *   // point the client at hub.endpoint(), then assert on hub.requests()
 * }
 * }</pre>
 *
 * <p>Two listeners on 127.0.0.1: the API (named {@code localhost} in {@link #endpoint()}) and the
 * CDN (named {@code 127.0.0.1} in {@link #cdnBase()}). The names differ on purpose: {@code
 * huggingface_hub} follows a redirect on HEAD only while it stays on the same host name, and it
 * drops the Authorization header for any other host, exactly as against huggingface.co and its CDN.
 */
public final class FakeHub implements AutoCloseable {
  private final java.util.concurrent.atomic.AtomicLong bodyBytes =
      new java.util.concurrent.atomic.AtomicLong();
  private volatile long throttle;
  private static final String LFS_SPEC = "version https://git-lfs.github.com/spec/v1\n";
  private static final String DATE = "2024-01-02T03:04:05.000Z";
  private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
  private static final Pattern REPO_ID =
      Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
  private static final Pattern SINGLE_RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");
  private static final HexFormat HEX = HexFormat.of();
  private static final int CHUNK = 64 * 1024;

  private final HttpServer api;
  private final HttpServer cdn;
  private final ExecutorService executor;
  private final ObjectMapper json = new ObjectMapper();
  private final String signingKey;
  private final AtomicLong commitCounter = new AtomicLong();
  private final Map<String, Repo> repos = new ConcurrentHashMap<>();
  private final Map<String, Content> lfsObjects = new ConcurrentHashMap<>();
  private final List<Recorded> requests = Collections.synchronizedList(new ArrayList<>());
  private final List<Fault> faults = new ArrayList<>(); // guarded by itself
  private volatile String token;
  private volatile int pageSize = 1000;
  private volatile String linkBase;
  private final Map<String, String> redirects = new ConcurrentHashMap<>();

  private FakeHub(HttpServer api, HttpServer cdn, ExecutorService executor) {
    this.api = api;
    this.cdn = cdn;
    this.executor = executor;
    byte[] key = new byte[16];
    new SecureRandom().nextBytes(key);
    this.signingKey = HEX.formatHex(key);
  }

  /** Starts both listeners on 127.0.0.1, ephemeral ports. */
  public static FakeHub start() throws IOException {
    InetAddress loopback = InetAddress.getByName("127.0.0.1");
    ExecutorService executor = Executors.newFixedThreadPool(32, namedDaemonThreads());
    HttpServer api = HttpServer.create(new InetSocketAddress(loopback, 0), 64);
    HttpServer cdn;
    try {
      cdn = HttpServer.create(new InetSocketAddress(loopback, 0), 64);
    } catch (IOException e) {
      api.stop(0);
      executor.shutdownNow();
      throw e;
    }
    FakeHub hub = new FakeHub(api, cdn, executor);
    api.createContext("/", exchange -> hub.handle(exchange, "api"));
    cdn.createContext("/", exchange -> hub.handle(exchange, "cdn"));
    api.setExecutor(executor);
    cdn.setExecutor(executor);
    api.start();
    cdn.start();
    return hub;
  }

  /** API and resolve host, e.g. {@code http://localhost:41234}; no trailing slash. */
  public String endpoint() {
    return "http://localhost:" + api.getAddress().getPort();
  }

  /**
   * Bytes of response bodies written to clients so far, on both listeners (what a client could
   * download).
   */
  public long bodyBytesSent() {
    return bodyBytes.get();
  }

  /** Throttles every body from now on to {@code bytesPerSecond} per response (0: no throttle). */
  public void throttle(long bytesPerSecond) {
    this.throttle = bytesPerSecond;
  }

  /** Where LFS bytes are served, e.g. {@code http://127.0.0.1:41235}: another host name. */
  public String cdnBase() {
    return "http://127.0.0.1:" + cdn.getAddress().getPort();
  }

  /** Gets or creates the model repo {@code org/name}. */
  public Repo repo(String repoId) {
    return repo("model", repoId);
  }

  /** Gets or creates a repo; {@code repoType} is {@code "model"} or {@code "dataset"}. */
  public Repo repo(String repoType, String repoId) {
    if (!"model".equals(repoType) && !"dataset".equals(repoType)) {
      throw new IllegalArgumentException(
          "repoType (" + repoType + ") must be \"model\" or \"dataset\"");
    }
    if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("--")) {
      throw new IllegalArgumentException("repoId (" + repoId + ") must look like \"org/name\"");
    }
    return repos.computeIfAbsent(repoType + ":" + repoId, k -> new Repo(this, repoType, repoId));
  }

  /**
   * When set, every API request (not the CDN's signed URLs) must carry {@code Authorization: Bearer
   * <token>}: without it the answer is 401 {@code RepoNotFound} "Invalid username or password.",
   * with another token 401 "Invalid credentials in Authorization header". It is also the one token
   * that opens gated repos. {@code null} turns the check off.
   */
  public void requireToken(String token) {
    this.token = token;
  }

  /** Tree API page size (default 1000). */
  public void pageSize(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("pageSize (" + n + ") must be positive");
    }
    this.pageSize = n;
  }

  /**
   * Where the tree API's {@code Link: rel="next"} pages point from now on, e.g. {@code
   * http://127.0.0.1:<port>}: the same API listener under another host name (null: {@link
   * #endpoint()}, as the Hub does).
   */
  public void linkBase(String base) {
    this.linkBase = base;
  }

  /**
   * The next API request whose path (with query) contains {@code pathContains} is answered 302 to
   * the same path and query on {@code base} (another host name of this fake, or another server).
   */
  public void redirectOnce(String pathContains, String base) {
    redirects.put(pathContains, base);
  }

  /** The host name a request was sent to, from its {@code Host} header (port removed). */
  public static String hostName(Recorded request) {
    String host = request.headers().getOrDefault("host", "");
    int colon = host.lastIndexOf(':');
    return colon > host.lastIndexOf(']') ? host.substring(0, colon) : host;
  }

  /** Every request received on both listeners, in arrival order. */
  public List<Recorded> requests() {
    synchronized (requests) {
      return List.copyOf(requests);
    }
  }

  public void clearRequests() {
    requests.clear();
  }

  /**
   * Queues a one-shot fault. A {@code STATUS} or {@code REDIRECT_LOOP} fault is taken by the first
   * request whose path (with query) contains {@code pathContains} ({@code null}: any request); the
   * body faults ({@code CUT_BODY}, {@code WRONG_BYTES}, {@code SLOW}, {@code HUGE_LENGTH}) by the
   * first such request answered 2xx with a non-empty body, so a redirect or a HEAD never consumes
   * them.
   */
  public FakeHub fault(Fault fault) {
    Objects.requireNonNull(fault, "fault");
    synchronized (faults) {
      faults.add(fault);
    }
    return this;
  }

  @Override
  public void close() {
    api.stop(0);
    cdn.stop(0);
    executor.shutdownNow();
    try {
      if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
        System.err.println("FakeHub - handler threads still running 10 s after close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** One received request; header names are lower case, repeated headers joined with ", ". */
  public record Recorded(String host, String method, String path, Map<String, String> headers) {}

  /** One-shot fault; see {@link FakeHub#fault(Fault)}. */
  public record Fault(
      String pathContains, Kind kind, int status, String retryAfter, long afterBytes) {
    public enum Kind {
      /** Answer {@code status} with optional Retry-After and an X-Error-Message. */
      STATUS,
      /** Full Content-Length, then {@code afterBytes} bytes, then the connection is closed. */
      CUT_BODY,
      /** Right size, the middle byte of the body flipped. */
      WRONG_BYTES,
      /** Body throttled to {@code afterBytes} bytes per second. */
      SLOW,
      /** A 302 back to the very URL asked for. */
      REDIRECT_LOOP,
      /**
       * A Content-Length {@code afterBytes} bytes larger than the body, then the body, then close.
       */
      HUGE_LENGTH,
      /**
       * The body, then {@code afterBytes} more bytes, with a Content-Length that counts them: a
       * server sending more than it listed.
       */
      OVERLONG
    }

    public Fault {
      Objects.requireNonNull(kind, "kind");
      if (kind == Kind.STATUS && (status < 200 || status > 599)) {
        throw new IllegalArgumentException("status (" + status + ") must be in 200..599");
      }
      if ((kind == Kind.CUT_BODY || kind == Kind.HUGE_LENGTH || kind == Kind.OVERLONG)
          && afterBytes < 0) {
        throw new IllegalArgumentException("afterBytes (" + afterBytes + ") must not be negative");
      }
      if (kind == Kind.SLOW && afterBytes < 1) {
        throw new IllegalArgumentException(
            "bytes per second (" + afterBytes + ") must be positive");
      }
    }

    public static Fault status(String pathContains, int status, String retryAfter) {
      return new Fault(pathContains, Kind.STATUS, status, retryAfter, 0);
    }

    public static Fault cut(String pathContains, long afterBytes) {
      return new Fault(pathContains, Kind.CUT_BODY, 0, null, afterBytes);
    }

    public static Fault wrongBytes(String pathContains) {
      return new Fault(pathContains, Kind.WRONG_BYTES, 0, null, 0);
    }

    public static Fault slow(String pathContains, long bytesPerSecond) {
      return new Fault(pathContains, Kind.SLOW, 0, null, bytesPerSecond);
    }

    public static Fault redirectLoop(String pathContains) {
      return new Fault(pathContains, Kind.REDIRECT_LOOP, 302, null, 0);
    }

    /** Declares {@code extraBytes} more than it sends, then drops the connection. */
    public static Fault hugeLength(String pathContains, long extraBytes) {
      return new Fault(pathContains, Kind.HUGE_LENGTH, 0, null, extraBytes);
    }

    /** Sends {@code extraBytes} bytes past the body, declared in its Content-Length. */
    public static Fault overlong(String pathContains, long extraBytes) {
      return new Fault(pathContains, Kind.OVERLONG, 0, null, extraBytes);
    }

    /** Whether the fault is taken before routing (a status or redirect) rather than by a body. */
    boolean beforeRouting() {
      return kind == Kind.STATUS || kind == Kind.REDIRECT_LOOP;
    }

    boolean matches(String path) {
      return pathContains == null || path.contains(pathContains);
    }
  }

  /** A repo: a staged tree, commits (snapshots of it) and refs pointing at commits. */
  public static final class Repo {
    private final FakeHub hub;
    private final String type;
    private final String id;
    private final NavigableMap<String, Entry> staged = new TreeMap<>(); // guarded by this
    private final Map<String, Commit> commits = new ConcurrentHashMap<>();
    private final Map<String, String> refs = new ConcurrentHashMap<>();
    private String head; // guarded by this
    private volatile boolean gated;
    private volatile boolean xet;

    private Repo(FakeHub hub, String type, String id) {
      this.hub = hub;
      this.type = type;
      this.id = id;
    }

    /** Stages a file (added or replaced) for the next commit. */
    public Repo file(String path, byte[] content, boolean lfs) {
      return stage(path, new BytesContent(content.clone()), lfs);
    }

    /**
     * Stages a file served from disk, streamed on every download and never loaded whole; it is
     * hashed once now, so it must not change afterwards.
     */
    public Repo file(String path, Path content, boolean lfs) {
      try {
        return stage(path, new FileContent(content, Files.size(content)), lfs);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /**
     * Stages a file under any path, even one that leaves the repository ({@code ../x}, {@code /x}):
     * what a hostile or broken Hub could list.
     */
    public synchronized Repo hostileFile(String path, byte[] content) {
      staged.put(
          path,
          new Entry(
              path,
              new BytesContent(content.clone()),
              gitBlobSha1(new BytesContent(content)),
              null,
              0));
      return this;
    }

    public synchronized Repo delete(String path) {
      if (staged.remove(path) == null) {
        throw new IllegalArgumentException("path (" + path + ") is not staged in " + id);
      }
      return this;
    }

    /**
     * Snapshots the staged tree as a new commit and moves each ref (branch, tag or {@code
     * refs/pr/N}) to it; the first commit with no refs creates {@code main}. Later commits move
     * only the refs named. Returns the 40-hex commit id.
     */
    public synchronized String commit(String... refs) {
      for (String ref : refs) {
        if (ref == null || ref.isBlank() || COMMIT.matcher(ref).matches()) {
          throw new IllegalArgumentException("ref (" + ref + ") must be a branch or tag name");
        }
      }
      StringBuilder text = new StringBuilder("commit ").append(type).append(':').append(id);
      text.append('\n').append(head).append('\n').append(hub.commitCounter.incrementAndGet());
      staged.values().forEach(e -> text.append('\n').append(e.gitOid()).append(' ').append(e.path));
      String commitId = hex(digest("SHA-1", text.toString().getBytes(StandardCharsets.UTF_8)));
      commits.put(
          commitId, new Commit(commitId, Collections.unmodifiableSortedMap(new TreeMap<>(staged))));
      if (refs.length == 0 && head == null) {
        this.refs.put("main", commitId);
      }
      for (String ref : refs) {
        this.refs.put(ref, commitId);
      }
      head = commitId;
      return commitId;
    }

    /**
     * A gated repo's metadata and tree stay public; its files answer 401 {@code GatedRepo} "...
     * Please log in." without a token and 403 {@code GatedRepo} with any token but the one set by
     * {@link FakeHub#requireToken}, as huggingface.co does.
     */
    public Repo gated(boolean gated) {
      this.gated = gated;
      return this;
    }

    /**
     * Lists the LFS files with a {@code xetHash}, as the Hub does for files stored in Xet. The hash
     * is a stand-in of the right shape (64 hex digits, derived from the SHA-256), not Xet's own:
     * the fake speaks no Xet protocol, so clients download over HTTP ({@code
     * HF_HUB_DISABLE_XET=1}).
     */
    public Repo xet(boolean xet) {
      this.xet = xet;
      return this;
    }

    private synchronized Repo stage(String path, Content content, boolean lfs) {
      checkPath(path);
      Entry entry;
      if (lfs) {
        String sha256 = hex(hash("SHA-256", content, null));
        byte[] pointer =
            (LFS_SPEC + "oid sha256:" + sha256 + "\nsize " + content.size() + "\n")
                .getBytes(StandardCharsets.UTF_8);
        entry =
            new Entry(
                path, content, gitBlobSha1(new BytesContent(pointer)), sha256, pointer.length);
        hub.lfsObjects.put(sha256, content);
      } else {
        entry = new Entry(path, content, gitBlobSha1(content), null, 0);
      }
      staged.put(path, entry);
      return this;
    }

    private Commit commitOf(String revision) {
      String commitId = refs.get(revision);
      if (commitId == null && COMMIT.matcher(revision).matches()) {
        commitId = revision;
      }
      return commitId == null ? null : commits.get(commitId);
    }

    private static void checkPath(String path) {
      if (path == null
          || path.isEmpty()
          || path.startsWith("/")
          || path.endsWith("/")
          || Arrays.stream(path.split("/", -1))
              .anyMatch(s -> s.isEmpty() || s.equals(".") || s.equals(".."))) {
        throw new IllegalArgumentException(
            "path (" + path + ") must be relative with no empty, '.' or '..' segments");
      }
    }
  }

  private interface Content {
    long size();

    InputStream open(long offset) throws IOException;
  }

  private record BytesContent(byte[] bytes) implements Content {
    @Override
    public long size() {
      return bytes.length;
    }

    @Override
    public InputStream open(long offset) {
      return new ByteArrayInputStream(bytes, (int) offset, bytes.length - (int) offset);
    }
  }

  private record FileContent(Path path, long size) implements Content {
    @Override
    public InputStream open(long offset) throws IOException {
      FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
      try {
        channel.position(offset);
      } catch (IOException e) {
        channel.close();
        throw e;
      }
      return Channels.newInputStream(channel);
    }
  }

  /**
   * A file in a commit; {@code sha256} is set for LFS files only, {@code gitOid} is the tree oid.
   */
  private record Entry(
      String path, Content content, String gitOid, String sha256, int pointerSize) {
    boolean lfs() {
      return sha256 != null;
    }
  }

  private record Commit(String id, SortedMap<String, Entry> files) {}

  /** Thrown once a body has been cut short: the server then drops the connection. */
  private static final class ConnectionCut extends IOException {
    private static final long serialVersionUID = 1L;

    ConnectionCut() {
      super("connection cut by an injected fault");
    }
  }

  private String takeRedirect(String recorded) {
    for (Map.Entry<String, String> redirect : redirects.entrySet()) {
      if (recorded.contains(redirect.getKey()) && redirects.remove(redirect.getKey()) != null) {
        return redirect.getValue();
      }
    }
    return null;
  }

  // ---- request handling ---------------------------------------------------------------------

  private void handle(HttpExchange exchange, String host) throws IOException {
    String path = exchange.getRequestURI().getRawPath();
    String query = exchange.getRequestURI().getRawQuery();
    String recorded = query == null ? path : path + "?" + query;
    requests.add(
        new Recorded(
            host, exchange.getRequestMethod(), recorded, lowerCase(exchange.getRequestHeaders())));
    try {
      String redirect = "api".equals(host) ? takeRedirect(recorded) : null;
      Fault fault = redirect == null ? takeFault(recorded, true) : null;
      if (redirect != null) {
        exchange.getResponseHeaders().set("Location", redirect + recorded);
        sendEmpty(exchange, 302);
      } else if (fault != null && fault.kind() == Fault.Kind.REDIRECT_LOOP) {
        exchange.getResponseHeaders().set("Location", recorded);
        sendEmpty(exchange, 302);
      } else if (fault != null) {
        if (fault.retryAfter() != null) {
          exchange.getResponseHeaders().set("Retry-After", fault.retryAfter());
        }
        error(exchange, recorded, fault.status(), null, "Injected fault: HTTP " + fault.status());
      } else if (!"GET".equals(exchange.getRequestMethod())
          && !"HEAD".equals(exchange.getRequestMethod())) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        error(exchange, recorded, 405, null, "Method not allowed");
      } else if ("api".equals(host)) {
        routeApi(exchange, recorded, segments(path), query(query));
      } else {
        routeCdn(exchange, recorded, segments(path), query(query));
      }
      exchange.close();
    } catch (IOException | RuntimeException e) {
      if (e instanceof ConnectionCut || exchange.getResponseCode() != -1) {
        throw e instanceof IOException io ? io : new IOException(e); // the server drops the socket
      }
      String message = e.getClass().getSimpleName() + ": " + e.getMessage();
      int status = e instanceof IllegalArgumentException ? 400 : 500;
      if (status == 500) {
        e.printStackTrace();
      }
      error(exchange, recorded, status, null, message);
      exchange.close();
    }
  }

  private void routeApi(
      HttpExchange exchange, String recorded, List<String> seg, Map<String, String> params)
      throws IOException {
    if (!authorized(exchange, recorded)) {
      return;
    }
    if (seg.size() >= 6 && seg.get(0).equals("api") && seg.get(1).equals("resolve-cache")) {
      String type = repoType(seg.get(2));
      Repo repo = type == null ? null : findRepo(type, seg.get(3) + "/" + seg.get(4));
      if (repo == null) {
        repoNotFound(exchange, recorded);
      } else {
        resolve(exchange, recorded, repo, seg.get(5), String.join("/", seg.subList(6, seg.size())));
      }
    } else if (seg.size() >= 4 && seg.get(0).equals("api") && repoType(seg.get(1)) != null) {
      Repo repo = findRepo(repoType(seg.get(1)), seg.get(2) + "/" + seg.get(3));
      List<String> rest = seg.subList(4, seg.size());
      if (repo == null) {
        repoNotFound(exchange, recorded);
      } else if (rest.isEmpty()) {
        info(exchange, recorded, repo, "main");
      } else if (rest.get(0).equals("revision") && rest.size() >= 2) {
        info(exchange, recorded, repo, String.join("/", rest.subList(1, rest.size())));
      } else if (rest.get(0).equals("tree") && rest.size() >= 2) {
        List<String> revAndPath = rest.subList(1, rest.size());
        int revLength = revisionLength(revAndPath);
        tree(
            exchange,
            recorded,
            params,
            repo,
            String.join("/", revAndPath.subList(0, revLength)),
            String.join("/", revAndPath.subList(revLength, revAndPath.size())));
      } else {
        error(exchange, recorded, 404, null, "Not Found");
      }
    } else if (seg.size() >= 6 && seg.get(0).equals("datasets") && seg.get(3).equals("resolve")) {
      resolveRoute(
          exchange, recorded, "dataset", seg.get(1) + "/" + seg.get(2), seg.subList(4, seg.size()));
    } else if (seg.size() >= 5 && seg.get(2).equals("resolve")) {
      resolveRoute(
          exchange, recorded, "model", seg.get(0) + "/" + seg.get(1), seg.subList(3, seg.size()));
    } else {
      error(exchange, recorded, 404, null, "Not Found");
    }
  }

  private void resolveRoute(
      HttpExchange exchange, String recorded, String type, String repoId, List<String> revAndPath)
      throws IOException {
    Repo repo = findRepo(type, repoId);
    int revLength = revisionLength(revAndPath);
    if (repo == null) {
      repoNotFound(exchange, recorded);
    } else if (revLength >= revAndPath.size()) {
      error(exchange, recorded, 404, null, "Not Found");
    } else {
      resolve(
          exchange,
          recorded,
          repo,
          String.join("/", revAndPath.subList(0, revLength)),
          String.join("/", revAndPath.subList(revLength, revAndPath.size())));
    }
  }

  /** {@code /api/models/{repo}/revision/{rev}}: the model_info / dataset_info answer. */
  private void info(HttpExchange exchange, String recorded, Repo repo, String revision)
      throws IOException {
    Commit commit = repo.commitOf(revision);
    if (commit == null) {
      revisionNotFound(exchange, recorded, revision);
      return;
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put(
        "_id",
        hex(digest("SHA-1", (repo.type + repo.id).getBytes(StandardCharsets.UTF_8)))
            .substring(0, 24));
    body.put("id", repo.id);
    if (repo.type.equals("model")) {
      body.put("modelId", repo.id);
    }
    body.put("author", repo.id.substring(0, repo.id.indexOf('/')));
    body.put("sha", commit.id());
    body.put("lastModified", DATE);
    body.put("createdAt", DATE);
    body.put("private", false);
    body.put("gated", repo.gated ? "manual" : false);
    body.put("disabled", false);
    body.put("downloads", 0);
    body.put("likes", 0);
    body.put("tags", List.of());
    body.put(
        "siblings", commit.files().keySet().stream().map(p -> Map.of("rfilename", p)).toList());
    sendJson(exchange, recorded, 200, body);
  }

  /** The stand-in Xet hash of an LFS file (see {@link Repo#xet}). */
  public static String xetHash(String sha256) {
    return hex(digest("SHA-256", ("xet " + sha256).getBytes(StandardCharsets.UTF_8)));
  }

  /** {@code /api/models/{repo}/tree/{rev}[/{path}]}: paginated with a Link header. */
  private void tree(
      HttpExchange exchange,
      String recorded,
      Map<String, String> params,
      Repo repo,
      String revision,
      String pathInRepo)
      throws IOException {
    Commit commit = repo.commitOf(revision);
    if (commit == null) {
      revisionNotFound(exchange, recorded, revision);
      return;
    }
    String prefix = pathInRepo.isEmpty() ? "" : pathInRepo + "/";
    if (!prefix.isEmpty()
        && commit.files().keySet().stream().noneMatch(p -> p.startsWith(prefix))) {
      entryNotFound(exchange, recorded, commit, pathInRepo, revision);
      return;
    }
    boolean recursive = isTrue(params.get("recursive"));
    boolean expand = isTrue(params.get("expand"));
    Set<String> dirs = new TreeSet<>();
    for (String file : commit.files().keySet()) {
      for (int i = file.indexOf('/'); i >= 0; i = file.indexOf('/', i + 1)) {
        dirs.add(file.substring(0, i));
      }
    }
    TreeMap<String, Map<String, Object>> listing = new TreeMap<>();
    for (String dir : dirs) {
      if (listed(dir, prefix, recursive)) {
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("type", "directory");
        item.put(
            "oid",
            hex(
                digest(
                    "SHA-1",
                    ("tree " + commit.id() + " " + dir).getBytes(StandardCharsets.UTF_8))));
        item.put("size", 0);
        item.put("path", dir);
        listing.put(dir, item);
      }
    }
    for (Entry entry : commit.files().values()) {
      if (listed(entry.path(), prefix, recursive)) {
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("type", "file");
        item.put("oid", entry.gitOid());
        item.put("size", entry.content().size());
        item.put("path", entry.path());
        if (entry.lfs()) {
          item.put(
              "lfs",
              Map.of(
                  "oid",
                  entry.sha256(),
                  "size",
                  entry.content().size(),
                  "pointerSize",
                  entry.pointerSize()));
        }
        if (entry.lfs() && repo.xet) {
          item.put("xetHash", xetHash(entry.sha256()));
        }
        if (expand) {
          item.put("lastCommit", Map.of("id", commit.id(), "title", "Upload", "date", DATE));
        }
        listing.put(entry.path(), item);
      }
    }
    List<Map<String, Object>> all = new ArrayList<>(listing.values());
    int from = params.containsKey("cursor") ? decodeCursor(params.get("cursor")) : 0;
    int to = Math.min(all.size(), from + pageSize);
    if (to < all.size()) {
      String query = exchange.getRequestURI().getRawQuery();
      String kept =
          query == null
              ? ""
              : Arrays.stream(query.split("&"))
                  .filter(p -> !p.startsWith("cursor="))
                  .reduce((a, b) -> a + "&" + b)
                  .map(q -> q + "&")
                  .orElse("");
      String base = linkBase;
      String next =
          (base == null ? endpoint() : base)
              + exchange.getRequestURI().getRawPath()
              + "?"
              + kept
              + "cursor="
              + Base64.getUrlEncoder()
                  .withoutPadding()
                  .encodeToString(("offset:" + to).getBytes(StandardCharsets.UTF_8));
      exchange.getResponseHeaders().set("Link", "<" + next + ">; rel=\"next\"");
    }
    sendJson(exchange, recorded, 200, all.subList(Math.min(from, all.size()), to));
  }

  /** {@code /{repo}/resolve/{rev}/{path}} and {@code /api/resolve-cache/...}. */
  private void resolve(
      HttpExchange exchange, String recorded, Repo repo, String revision, String path)
      throws IOException {
    if (repo.gated && !hasToken(exchange)) {
      String auth = exchange.getRequestHeaders().getFirst("Authorization");
      String what = repo.type + " " + repo.id;
      if (auth == null) {
        error(
            exchange,
            recorded,
            401,
            "GatedRepo",
            "Access to "
                + what
                + " is restricted. You must have access to it and be authenticated to access it. Please log in.");
      } else {
        error(
            exchange,
            recorded,
            403,
            "GatedRepo",
            "Access to "
                + what
                + " is restricted and you are not in the authorized list. Visit "
                + endpoint()
                + "/"
                + urlPrefix(repo)
                + repo.id
                + " to ask for access.");
      }
      return;
    }
    Commit commit = repo.commitOf(revision);
    if (commit == null) {
      revisionNotFound(exchange, recorded, revision);
      return;
    }
    Entry entry = commit.files().get(path);
    if (entry == null) {
      entryNotFound(exchange, recorded, commit, path, revision);
      return;
    }
    Headers headers = exchange.getResponseHeaders();
    headers.set("X-Repo-Commit", commit.id());
    boolean resolveCache = recorded.startsWith("/api/resolve-cache/");
    if (entry.lfs()) {
      headers.set(
          "Location", cdnBase() + "/lfs/" + entry.sha256() + "?sig=" + sign(entry.sha256()));
      headers.set("X-Linked-Etag", "\"" + entry.sha256() + "\"");
      headers.set("X-Linked-Size", Long.toString(entry.content().size()));
      headers.set("ETag", "\"" + entry.gitOid() + "\"");
      sendEmpty(exchange, 302);
    } else if (!resolveCache) {
      headers.set(
          "Location",
          "/api/resolve-cache/"
              + repo.type
              + "s/"
              + repo.id
              + "/"
              + commit.id()
              + "/"
              + encodePath(path));
      sendEmpty(exchange, 307);
    } else {
      headers.set("ETag", "\"" + entry.gitOid() + "\"");
      sendContent(exchange, recorded, entry.content());
    }
  }

  private void routeCdn(
      HttpExchange exchange, String recorded, List<String> seg, Map<String, String> params)
      throws IOException {
    Content content =
        seg.size() == 2 && seg.get(0).equals("lfs") ? lfsObjects.get(seg.get(1)) : null;
    if (content == null) {
      sendXml(exchange, recorded, 404, "NoSuchKey", "The specified key does not exist.");
    } else if (!sign(seg.get(1)).equals(params.get("sig"))) {
      sendXml(exchange, recorded, 403, "AccessDenied", "Access denied");
    } else {
      exchange
          .getResponseHeaders()
          .set(
              "ETag",
              "\""
                  + hex(digest("SHA-1", seg.get(1).getBytes(StandardCharsets.UTF_8)))
                      .substring(0, 32)
                  + "\"");
      exchange.getResponseHeaders().set("Cache-Control", "public, max-age=604800, immutable");
      sendContent(exchange, recorded, content);
    }
  }

  // ---- auth and errors ----------------------------------------------------------------------

  private boolean authorized(HttpExchange exchange, String recorded) throws IOException {
    String required = token;
    if (required == null) {
      return true;
    }
    String auth = exchange.getRequestHeaders().getFirst("Authorization");
    if (auth == null) {
      error(exchange, recorded, 401, "RepoNotFound", "Invalid username or password.");
      return false;
    }
    if (!auth.equals("Bearer " + required)) {
      error(exchange, recorded, 401, null, "Invalid credentials in Authorization header");
      return false;
    }
    return true;
  }

  private boolean hasToken(HttpExchange exchange) {
    String required = token;
    return required != null
        && ("Bearer " + required).equals(exchange.getRequestHeaders().getFirst("Authorization"));
  }

  private void repoNotFound(HttpExchange exchange, String recorded) throws IOException {
    boolean authenticated = exchange.getRequestHeaders().containsKey("Authorization");
    error(exchange, recorded, authenticated ? 404 : 401, "RepoNotFound", "Repository not found");
  }

  private void revisionNotFound(HttpExchange exchange, String recorded, String revision)
      throws IOException {
    error(exchange, recorded, 404, "RevisionNotFound", "Invalid rev id: " + revision);
  }

  private void entryNotFound(
      HttpExchange exchange, String recorded, Commit commit, String path, String revision)
      throws IOException {
    // huggingface_hub caches the absence under .no_exist/<X-Repo-Commit>/.
    exchange.getResponseHeaders().set("X-Repo-Commit", commit.id());
    error(
        exchange, recorded, 404, "EntryNotFound", path + " does not exist on \"" + revision + "\"");
  }

  private void error(
      HttpExchange exchange, String recorded, int status, String code, String message)
      throws IOException {
    Headers headers = exchange.getResponseHeaders();
    if (code != null) {
      headers.set("X-Error-Code", code);
    }
    headers.set("X-Error-Message", message);
    sendJson(exchange, recorded, status, Map.of("error", message));
  }

  // ---- bodies -------------------------------------------------------------------------------

  private void sendJson(HttpExchange exchange, String recorded, int status, Object body)
      throws IOException {
    byte[] bytes;
    try {
      bytes = json.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
    sendBody(exchange, recorded, status, new BytesContent(bytes), 0, bytes.length);
  }

  private void sendXml(
      HttpExchange exchange, String recorded, int status, String code, String message)
      throws IOException {
    byte[] bytes =
        ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                + code
                + "</Code><Message>"
                + message
                + "</Message></Error>")
            .getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/xml");
    sendBody(exchange, recorded, status, new BytesContent(bytes), 0, bytes.length);
  }

  private static void sendEmpty(HttpExchange exchange, int status) throws IOException {
    if ("HEAD".equals(exchange.getRequestMethod())) {
      exchange.getResponseHeaders().set("Content-Length", "0");
    }
    exchange.sendResponseHeaders(status, -1); // GET: the server writes Content-Length: 0
  }

  /** Serves bytes with single-range support: 206 with Content-Range, 416 when unsatisfiable. */
  private void sendContent(HttpExchange exchange, String recorded, Content content)
      throws IOException {
    Headers headers = exchange.getResponseHeaders();
    headers.set("Accept-Ranges", "bytes");
    headers.set("Content-Type", "application/octet-stream");
    long size = content.size();
    String range = exchange.getRequestHeaders().getFirst("Range");
    var matcher = range == null ? null : SINGLE_RANGE.matcher(range.trim());
    if (matcher == null
        || !matcher.matches()
        || (matcher.group(1).isEmpty() && matcher.group(2).isEmpty())) {
      sendBody(exchange, recorded, 200, content, 0, size); // no range, or one we ignore (RFC 9110)
      return;
    }
    long start;
    long end;
    if (matcher.group(1).isEmpty()) { // suffix: the last N bytes
      long suffix = Long.parseLong(matcher.group(2));
      start = Math.max(0, size - suffix);
      end = size - 1;
      if (suffix == 0) {
        start = size;
      }
    } else {
      start = Long.parseLong(matcher.group(1));
      end =
          matcher.group(2).isEmpty()
              ? size - 1
              : Math.min(Long.parseLong(matcher.group(2)), size - 1);
      if (!matcher.group(2).isEmpty() && Long.parseLong(matcher.group(2)) < start) {
        sendBody(exchange, recorded, 200, content, 0, size); // invalid: ignored
        return;
      }
    }
    if (start >= size) {
      headers.set("Content-Range", "bytes */" + size);
      sendBody(exchange, recorded, 416, new BytesContent(new byte[0]), 0, 0);
      return;
    }
    headers.set("Content-Range", "bytes " + start + "-" + end + "/" + size);
    sendBody(exchange, recorded, 206, content, start, end - start + 1);
  }

  /** Writes headers and {@code length} bytes from {@code offset}, applying a queued body fault. */
  private void sendBody(
      HttpExchange exchange, String recorded, int status, Content content, long offset, long length)
      throws IOException {
    if ("HEAD".equals(exchange.getRequestMethod())) {
      exchange.getResponseHeaders().set("Content-Length", Long.toString(length));
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    if (length == 0) {
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    Fault fault = status / 100 == 2 ? takeFault(recorded, false) : null;
    Fault.Kind kind = fault == null ? null : fault.kind();
    exchange.sendResponseHeaders(
        status,
        kind == Fault.Kind.HUGE_LENGTH || kind == Fault.Kind.OVERLONG
            ? length + fault.afterBytes()
            : length);
    OutputStream out = exchange.getResponseBody();
    try (InputStream in = content.open(offset)) {
      if (kind == Fault.Kind.OVERLONG) {
        copy(in, out, length, -1, 0);
        byte[] extra = new byte[(int) Math.min(CHUNK, fault.afterBytes())];
        java.util.Arrays.fill(extra, (byte) 'x');
        for (long left = fault.afterBytes(); left > 0; left -= extra.length) {
          out.write(extra, 0, (int) Math.min(extra.length, left));
          bodyBytes.addAndGet(Math.min(extra.length, left));
        }
        out.close();
        return;
      }
      if (kind == Fault.Kind.CUT_BODY || kind == Fault.Kind.HUGE_LENGTH) {
        copy(
            in,
            out,
            kind == Fault.Kind.CUT_BODY ? Math.min(length, fault.afterBytes()) : length,
            -1,
            0);
        out.flush();
        throw new ConnectionCut();
      }
      copy(
          in,
          out,
          length,
          kind == Fault.Kind.WRONG_BYTES ? length / 2 : -1,
          kind == Fault.Kind.SLOW ? fault.afterBytes() : 0);
    }
    out.close();
  }

  /**
   * Copies exactly {@code length} bytes, flipping the byte at {@code flipAt}, at most {@code rate}
   * B/s.
   */
  private void copy(InputStream in, OutputStream out, long length, long flipAt, long rate)
      throws IOException {
    if (rate <= 0) {
      rate = throttle;
    }
    int chunk = rate > 0 ? (int) Math.max(1, Math.min(CHUNK, rate / 20)) : CHUNK;
    byte[] buffer = new byte[chunk];
    long started = System.nanoTime();
    long done = 0;
    while (done < length) {
      int n = in.readNBytes(buffer, 0, (int) Math.min(buffer.length, length - done));
      if (n == 0) {
        throw new IOException("content ended after " + done + " of " + length + " bytes");
      }
      if (flipAt >= done && flipAt < done + n) {
        buffer[(int) (flipAt - done)] ^= (byte) 0xFF;
      }
      out.write(buffer, 0, n);
      bodyBytes.addAndGet(n);
      done += n;
      if (rate > 0) {
        out.flush();
        long due = started + done * 1_000_000_000L / rate;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          try {
            TimeUnit.NANOSECONDS.sleep(wait); // throttling is the point here, not synchronisation
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("throttled body interrupted");
          }
        }
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private Fault takeFault(String path, boolean statusPhase) {
    synchronized (faults) {
      for (Iterator<Fault> it = faults.iterator(); it.hasNext(); ) {
        Fault fault = it.next();
        if (fault.beforeRouting() == statusPhase && fault.matches(path)) {
          it.remove();
          return fault;
        }
      }
    }
    return null;
  }

  private Repo findRepo(String type, String repoId) {
    return repos.get(type + ":" + repoId);
  }

  private String sign(String sha256) {
    byte[] bytes = (signingKey + sha256).getBytes(StandardCharsets.UTF_8);
    return hex(digest("SHA-256", bytes)).substring(0, 32);
  }

  private static String urlPrefix(Repo repo) {
    return repo.type.equals("dataset") ? "datasets/" : "";
  }

  private static String repoType(String plural) {
    return switch (plural) {
      case "models" -> "model";
      case "datasets" -> "dataset";
      default -> null;
    };
  }

  /** How many decoded path segments the revision takes: 3 for an unencoded {@code refs/pr/1}. */
  private static int revisionLength(List<String> segments) {
    if (segments.size() >= 3
        && segments.get(0).equals("refs")
        && (segments.get(1).equals("pr") || segments.get(1).equals("convert"))) {
      return 3;
    }
    return 1;
  }

  private static boolean listed(String path, String prefix, boolean recursive) {
    return path.startsWith(prefix) && (recursive || path.indexOf('/', prefix.length()) < 0);
  }

  private static boolean isTrue(String value) {
    return value != null && (value.equalsIgnoreCase("true") || value.equals("1"));
  }

  private static int decodeCursor(String cursor) {
    try {
      String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
      if (!text.startsWith("offset:")) {
        throw new IllegalArgumentException("cursor (" + cursor + ") is not one this Hub gave out");
      }
      return Integer.parseInt(text.substring("offset:".length()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("cursor (" + cursor + ") is not one this Hub gave out", e);
    }
  }

  private static List<String> segments(String rawPath) {
    List<String> out = new ArrayList<>();
    for (String s : rawPath.split("/")) {
      if (!s.isEmpty()) {
        out.add(decode(s));
      }
    }
    return out;
  }

  private static Map<String, String> query(String rawQuery) {
    Map<String, String> out = new LinkedHashMap<>();
    if (rawQuery != null) {
      for (String pair : rawQuery.split("&")) {
        int eq = pair.indexOf('=');
        String key = decode((eq < 0 ? pair : pair.substring(0, eq)).replace('+', ' '));
        out.put(key, eq < 0 ? "" : decode(pair.substring(eq + 1).replace('+', ' ')));
      }
    }
    return out;
  }

  /** Percent-decoding for paths: unlike URLDecoder, '+' stays '+'. */
  private static String decode(String s) {
    if (s.indexOf('%') < 0) {
      return s;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length()) {
        out.write(HexFormat.fromHexDigits(s, i + 1, i + 3));
        i += 2;
      } else if (c == '%') {
        throw new IllegalArgumentException("bad percent-encoding in (" + s + ")");
      } else {
        out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /** Percent-encodes each segment of a repo path, keeping the slashes. */
  private static String encodePath(String path) {
    StringBuilder out = new StringBuilder();
    for (byte b : path.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xFF);
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || "-._~/".indexOf(c) >= 0) {
        out.append(c);
      } else {
        out.append('%').append(HEX.withUpperCase().toHexDigits(b));
      }
    }
    return out.toString();
  }

  private static Map<String, String> lowerCase(Headers headers) {
    Map<String, String> out = new TreeMap<>();
    headers.forEach(
        (name, values) -> out.put(name.toLowerCase(Locale.ROOT), String.join(", ", values)));
    return Collections.unmodifiableMap(out);
  }

  private static String gitBlobSha1(Content content) {
    return hex(
        hash("SHA-1", content, ("blob " + content.size() + "\0").getBytes(StandardCharsets.UTF_8)));
  }

  private static byte[] hash(String algorithm, Content content, byte[] prefix) {
    MessageDigest digest = newDigest(algorithm);
    if (prefix != null) {
      digest.update(prefix);
    }
    byte[] buffer = new byte[CHUNK];
    try (InputStream in = content.open(0)) {
      for (int n; (n = in.read(buffer)) > 0; ) {
        digest.update(buffer, 0, n);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return digest.digest();
  }

  private static byte[] digest(String algorithm, byte[] bytes) {
    return newDigest(algorithm).digest(bytes);
  }

  private static MessageDigest newDigest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(byte[] bytes) {
    return HEX.formatHex(bytes);
  }

  private static ThreadFactory namedDaemonThreads() {
    AtomicInteger n = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, "fake-hub-" + n.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
