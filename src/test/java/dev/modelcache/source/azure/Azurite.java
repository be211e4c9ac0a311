package dev.modelcache.source.azure;

import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobHttpHeaders;
import com.azure.storage.blob.sas.BlobContainerSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import com.azure.storage.common.StorageSharedKeyCredential;
import dev.modelcache.Poll;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Azurite, the real Azure Storage emulator (from the npm registry), as a child process serving
 * blobs on a free loopback port with its well-known development account; installed once into {@code
 * target/azurite} with {@code npm install} (about two minutes), reused after. Tests skip with the
 * reason where node or npm is missing or the install fails.
 *
 * <pre>{@code
 * try (Azurite azurite = Azurite.start(tmp)) {
 *   azurite.put("models", "iris/model.pt", bytes);
 *   // sources.azure.endpoint: azurite.endpoint(), AZURE_STORAGE_KEY=Azurite.KEY
 * }
 * }</pre>
 */
public final class Azurite implements AutoCloseable {
  public static final String VERSION = "3.35.0";
  public static final String ACCOUNT = "devstoreaccount1";

  /** Azurite's published development key: not a secret anywhere. */
  public static final String KEY =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

  private static final Path HOME = Path.of("target", "azurite").toAbsolutePath();
  private static final Path BINARY = HOME.resolve("node_modules/.bin/azurite-blob");
  private static String reason = "";
  private static boolean tried;

  private final Process process;
  private final int port;
  private final BlobServiceClient client;

  private Azurite(Process process, int port) {
    this.process = process;
    this.port = port;
    this.client =
        new BlobServiceClientBuilder()
            .endpoint(endpoint())
            .credential(new StorageSharedKeyCredential(ACCOUNT, KEY))
            .httpClient(new JdkHttpClientBuilder().build())
            .buildClient();
  }

  /** Starts Azurite with its data under {@code dir}; skips the test when it is not available. */
  public static Azurite start(Path dir) throws Exception {
    Optional<Path> binary = binary();
    Assumptions.assumeTrue(binary.isPresent(), () -> "Azurite is not available: " + reason);
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    Path data = Files.createDirectories(dir.resolve("azurite-data"));
    Process process =
        new ProcessBuilder(
                binary.get().toString(),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                String.valueOf(port),
                "--location",
                data.toString(),
                "--skipApiVersionCheck",
                "--loose",
                "--silent")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("azurite.log").toFile())
            .start();
    Azurite azurite = new Azurite(process, port);
    try {
      Poll.until(
          Duration.ofSeconds(30),
          Duration.ofMillis(50),
          "Azurite on port " + port + " (log: " + dir.resolve("azurite.log") + ")",
          () -> process.isAlive() && accepts(port));
    } catch (Throwable e) {
      azurite.close();
      throw e;
    }
    return azurite;
  }

  /** The port Azurite serves blobs on. */
  public int port() {
    return port;
  }

  /** The dev account's blob endpoint: {@code http://127.0.0.1:{port}/devstoreaccount1}. */
  public String endpoint() {
    return "http://127.0.0.1:" + port + "/" + ACCOUNT;
  }

  /** A connection string for the dev account at this endpoint (it carries the key). */
  public String connectionString() {
    return "DefaultEndpointsProtocol=http;AccountName="
        + ACCOUNT
        + ";AccountKey="
        + KEY
        + ";BlobEndpoint="
        + endpoint()
        + ";";
  }

  /**
   * A service SAS for {@code container}, signed with the development key: {@code permissions} as
   * the SDK parses them ({@code "rl"}: read and list), valid until {@code expiry}; no leading
   * {@code ?}.
   */
  public String sas(String container, String permissions, OffsetDateTime expiry) {
    return client
        .getBlobContainerClient(container)
        .generateSas(
            new BlobServiceSasSignatureValues(
                expiry, BlobContainerSasPermission.parse(permissions)));
  }

  /** Creates {@code container} when it does not exist. */
  public void container(String container) {
    client.getBlobContainerClient(container).createIfNotExists();
  }

  /** Uploads (or replaces) a blob, creating its container; returns its ETag. */
  public String put(String container, String name, byte[] bytes) {
    container(container);
    BlobClient blob = client.getBlobContainerClient(container).getBlobClient(name);
    blob.upload(com.azure.core.util.BinaryData.fromBytes(bytes), true);
    return blob.getProperties().getETag();
  }

  public String put(String container, String name, String text) {
    return put(container, name, text.getBytes(StandardCharsets.UTF_8));
  }

  /** Sets the blob's stored {@code Content-MD5} property, right or wrong. */
  public void contentMd5(String container, String name, byte[] md5) {
    client
        .getBlobContainerClient(container)
        .getBlobClient(name)
        .setHttpHeaders(new BlobHttpHeaders().setContentMd5(md5));
  }

  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroy);
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static boolean accepts(int port) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Azurite's binary, installed on first use; empty (see {@link #reason}) when it cannot be. */
  static synchronized Optional<Path> binary() {
    if (!tried) {
      tried = true;
      reason = install();
    }
    return Files.isExecutable(BINARY) ? Optional.of(BINARY) : Optional.empty();
  }

  private static String install() {
    if (Files.isExecutable(BINARY)) {
      return "";
    }
    if (!Files.isExecutable(Path.of("/usr/bin/npm")) && !onPath("npm")) {
      return "npm is not installed (apt-get install -y nodejs npm)";
    }
    try {
      Files.createDirectories(HOME);
      Process npm =
          new ProcessBuilder(
                  List.of(
                      "npm",
                      "install",
                      "--prefix",
                      HOME.toString(),
                      "--no-audit",
                      "--no-fund",
                      "azurite@" + VERSION))
              .redirectErrorStream(true)
              .redirectOutput(HOME.resolve("npm-install.log").toFile())
              .start();
      if (!npm.waitFor(300, TimeUnit.SECONDS)) {
        npm.destroyForcibly();
        return "npm install azurite@" + VERSION + " took over 300 s";
      }
      return npm.exitValue() == 0
          ? ""
          : "npm install azurite@"
              + VERSION
              + " failed (exit "
              + npm.exitValue()
              + "; see "
              + HOME.resolve("npm-install.log")
              + ")";
    } catch (IOException e) {
      return "npm install azurite failed: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted while installing Azurite";
    }
  }

  private static boolean onPath(String command) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(":")) {
      if (Files.isExecutable(Path.of(dir, command))) {
        return true;
      }
    }
    return false;
  }
}
