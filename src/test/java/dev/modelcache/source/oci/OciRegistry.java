package dev.modelcache.source.oci;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.modelcache.Poll;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real registry on loopback: Debian's {@code docker-registry} (the CNCF distribution registry)
 * with filesystem storage in a temporary folder. Artifacts are pushed through its HTTP API as ORAS
 * does (each file a blob titled by its path, an empty config); tests skip, saying why, where the
 * binary is missing.
 *
 * <pre>{@code
 * try (OciRegistry registry = OciRegistry.start(tmp)) {
 *   String digest = registry.push("team/iris", "v1", Map.of("model.pt", bytes));
 * }
 * }</pre>
 */
public final class OciRegistry implements AutoCloseable {
  public static final Path BINARY = Path.of("/usr/bin/docker-registry");
  static final String EMPTY_CONFIG = "application/vnd.oci.empty.v1+json";

  private final Process process;
  private final Path storage;
  private final int port;
  private final HttpClient http = HttpClient.newHttpClient();
  private final String authorization;

  private OciRegistry(Process process, Path storage, int port, String authorization) {
    this.process = process;
    this.storage = storage;
    this.port = port;
    this.authorization = authorization;
  }

  public static OciRegistry start(Path dir) throws Exception {
    return start(dir, null, null);
  }

  /**
   * A registry that asks for {@code user}'s {@code password} with a {@code Basic} challenge (its
   * {@code htpasswd} auth, bcrypt hashed by {@code htpasswd -B} or Python's {@code crypt}); the
   * fixture's own pushes log in. Skips, saying why, where neither can hash.
   */
  public static OciRegistry startWithLogin(Path dir, String user, String password)
      throws Exception {
    return start(dir, user, password);
  }

  private static OciRegistry start(Path dir, String user, String password) throws Exception {
    assumeTrue(
        Files.isExecutable(BINARY),
        BINARY + " is not installed (apt-get install docker-registry): OCI tests skipped");
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    Path storage = Files.createDirectories(dir.resolve("registry"));
    Path config = dir.resolve("registry.yml");
    Files.writeString(
        config,
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: "
            + storage
            + "\nhttp:\n  addr: 127.0.0.1:"
            + port
            + "\n  secret: test-secret\n"
            + (user == null ? "" : htpasswd(dir, user, password)));
    Process process =
        new ProcessBuilder(BINARY.toString(), "serve", config.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("registry.log").toFile())
            .start();
    OciRegistry registry =
        new OciRegistry(
            process,
            storage,
            port,
            user == null
                ? null
                : "Basic "
                    + java.util.Base64.getEncoder()
                        .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8)));
    try {
      Poll.until(
          Duration.ofSeconds(20),
          Duration.ofMillis(50),
          "the registry on port " + port,
          () -> process.isAlive() && registry.status("/v2/") == 200);
    } catch (AssertionError | Exception e) {
      registry.close();
      throw new AssertionError(
          e.getMessage() + ": " + Files.readString(dir.resolve("registry.log")));
    }
    return registry;
  }

  /** The registry config's {@code auth:} for a bcrypt htpasswd file of {@code user}. */
  private static String htpasswd(Path dir, String user, String password) throws Exception {
    List<String> command =
        Files.isExecutable(Path.of("/usr/bin/htpasswd"))
            ? List.of("/usr/bin/htpasswd", "-nbB", "-C", "4", user, password)
            : List.of(
                "python3",
                "-W",
                "ignore",
                "-c",
                "import crypt, sys; print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2],"
                    + " crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
                user,
                password);
    String line = "";
    try {
      Process hash = new ProcessBuilder(command).redirectErrorStream(true).start();
      line = new String(hash.getInputStream().readNBytes(4096), StandardCharsets.UTF_8).strip();
      if (!hash.waitFor(10, TimeUnit.SECONDS)) {
        hash.destroyForcibly();
      }
    } catch (IOException e) {
      line = e.getMessage();
    }
    String hashed = line;
    assumeTrue(
        hashed.startsWith(user + ":$2"),
        () ->
            "no bcrypt for the registry's htpasswd (apt-get install apache2-utils; python3's crypt"
                + " said: "
                + hashed
                + "): OCI login tests skipped");
    Path file = Files.writeString(dir.resolve("htpasswd"), hashed + "\n");
    return "auth:\n  htpasswd:\n    realm: modelcache-test\n    path: " + file + "\n";
  }

  /** {@code 127.0.0.1:{port}}: the registry as an {@code oci://} source names it. */
  public String host() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  private int status(String path) {
    try {
      return http.send(
              authorized(HttpRequest.newBuilder(URI.create("http://" + host() + path))).build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** Uploads {@code bytes} as a blob of {@code repository} (monolithic upload); its SHA-256. */
  public String pushBlob(String repository, byte[] bytes) throws Exception {
    String digest = sha256(bytes);
    HttpResponse<String> started =
        http.send(
            authorized(
                    HttpRequest.newBuilder(
                        URI.create("http://" + host() + "/v2/" + repository + "/blobs/uploads/")))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    check(started, 202, "starting an upload");
    URI location =
        URI.create("http://" + host() + "/")
            .resolve(started.headers().firstValue("Location").orElseThrow());
    String sep = location.getQuery() == null ? "?" : "&";
    HttpResponse<String> put =
        http.send(
            authorized(
                    HttpRequest.newBuilder(URI.create(location + sep + "digest=sha256:" + digest)))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    check(put, 201, "uploading a blob");
    return digest;
  }

  /**
   * Pushes {@code files} as an ORAS-style artifact tagged {@code tag} (layers in the map's order,
   * each titled by its path); the manifest's digest (64 hex digits).
   */
  public String push(String repository, String tag, Map<String, byte[]> files) throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode manifest = json.createObjectNode();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    manifest.put("artifactType", "application/vnd.modelcache.test.model");
    byte[] config = "{}".getBytes(StandardCharsets.UTF_8);
    ObjectNode configNode = manifest.putObject("config");
    configNode.put("mediaType", EMPTY_CONFIG);
    configNode.put("digest", "sha256:" + pushBlob(repository, config));
    configNode.put("size", config.length);
    ArrayNode layers = manifest.putArray("layers");
    for (Map.Entry<String, byte[]> file : files.entrySet()) {
      ObjectNode layer = layers.addObject();
      layer.put("mediaType", "application/vnd.oci.image.layer.v1.tar");
      layer.put("digest", "sha256:" + pushBlob(repository, file.getValue()));
      layer.put("size", file.getValue().length);
      layer.putObject("annotations").put("org.opencontainers.image.title", file.getKey());
    }
    return putManifest(repository, tag, json.writeValueAsBytes(manifest));
  }

  /** {@code PUT}s {@code manifest} as {@code reference}; its digest (64 hex digits). */
  public String putManifest(String repository, String reference, byte[] manifest) throws Exception {
    return putManifest(
        repository, reference, manifest, "application/vnd.oci.image.manifest.v1+json");
  }

  /** {@code PUT}s {@code manifest} of {@code mediaType} (an index...) as {@code reference}. */
  public String putManifest(String repository, String reference, byte[] manifest, String mediaType)
      throws Exception {
    HttpResponse<String> put =
        http.send(
            authorized(
                    HttpRequest.newBuilder(
                        URI.create(
                            "http://" + host() + "/v2/" + repository + "/manifests/" + reference)))
                .header("Content-Type", mediaType)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(manifest))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    check(put, 201, "putting a manifest");
    return sha256(manifest);
  }

  /**
   * The bytes of the manifest {@code reference} of {@code repository}, as the registry keeps them.
   */
  public byte[] manifest(String repository, String reference) throws Exception {
    HttpResponse<byte[]> got =
        http.send(
            authorized(
                    HttpRequest.newBuilder(
                        URI.create(
                            "http://" + host() + "/v2/" + repository + "/manifests/" + reference)))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    if (got.statusCode() != 200) {
      throw new AssertionError("getting a manifest: HTTP " + got.statusCode());
    }
    return got.body();
  }

  /** Where the registry keeps the bytes of blob {@code sha256}: a test may tamper with them. */
  public Path blobData(String sha256) {
    return storage.resolve(
        "docker/registry/v2/blobs/sha256/" + sha256.substring(0, 2) + "/" + sha256 + "/data");
  }

  private HttpRequest.Builder authorized(HttpRequest.Builder request) {
    return authorization == null ? request : request.header("Authorization", authorization);
  }

  private static void check(HttpResponse<String> response, int expected, String what) {
    if (response.statusCode() != expected) {
      throw new AssertionError(what + ": HTTP " + response.statusCode() + " " + response.body());
    }
  }

  public static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
