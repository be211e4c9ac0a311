package dev.modelcache.source;

import com.azure.core.http.HttpClient;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import dev.modelcache.config.Config.AzureConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.threads.NamedThreads;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A folder of an Azure Blob Storage container ({@code az://account/container/prefix}, or {@code
 * https://account.blob.core.windows.net/container/prefix}) through the official SDK: every blob
 * under the prefix is a file of the model ({@link AzureListing}), and its bytes are read in
 * MD5-checked chunks under its listed ETag ({@link AzureBlobs}), so a blob replaced during a fetch
 * fails instead of mixing two contents.
 *
 * <p>What vouches for each file's SHA-256 (config and {@code modelcache.lock} pins come first, in
 * the fetch): a {@code {name}.sha256} sidecar blob beside it. A blob's {@code Content-MD5} checks
 * transport only. A file nothing vouches for is trusted on first use (its digest recorded in {@code
 * modelcache.lock}), or refused under {@code require_pins}. Failures that may pass (throttling,
 * 5xx, an unreachable endpoint, a cut) are {@link RetryableSourceException}s; the SDK's own retries
 * are off so that the fetch's backoff and retry metrics see them.
 *
 * <p>One SDK client per storage account, sharing one JDK HTTP client whose threads this source owns
 * ({@code modelcache-azure-N}).
 */
public final class AzureSource implements ModelSource {
  private static final Logger log = LoggerFactory.getLogger(AzureSource.class);

  private final AzureConfig config;
  private final Map<String, String> env;
  private final int chunk;
  private final NamedThreads threads = NamedThreads.numbered("modelcache-azure");
  private final ExecutorService executor = Executors.newCachedThreadPool(threads);
  private @Nullable HttpClient http; // built with the first client: a daemon without az:// has none
  private final Map<String, BlobServiceClient> clients = new ConcurrentHashMap<>();

  /**
   * @param env the environment that Microsoft Entra ID credentials read ({@code AZURE_CLIENT_ID},
   *     {@code AZURE_TENANT_ID}, {@code AZURE_FEDERATED_TOKEN_FILE})
   */
  public AzureSource(AzureConfig config, Map<String, String> env) {
    this(config, env, AzureBlobs.MAX_CHUNK);
  }

  /** With chunks of {@code chunk} bytes (at most 4 MiB), for tests. */
  public AzureSource(AzureConfig config, Map<String, String> env, int chunk) {
    if (chunk <= 0 || chunk > AzureBlobs.MAX_CHUNK) {
      throw new IllegalArgumentException(
          "chunk (" + chunk + ") must be in 1.." + AzureBlobs.MAX_CHUNK);
    }
    this.config = config;
    this.env = Map.copyOf(env);
    this.chunk = chunk;
  }

  /** The storage account of the model's source. */
  public static String account(ModelConfig model) {
    return model.source().location().split("/", 3)[0];
  }

  /** The container of the model's source. */
  public static String container(ModelConfig model) {
    return model.source().location().split("/", 3)[1];
  }

  /** The blob name prefix of the model's folder: empty, or ending in '/'. */
  public static String prefix(ModelConfig model) {
    String[] parts = model.source().location().split("/", 3);
    return parts.length < 3 ? "" : parts[2] + "/";
  }

  private AzureBlobs blobs(ModelConfig model) throws SourceException {
    String account = account(model);
    BlobServiceClient client = clients.get(account);
    if (client == null) {
      try {
        client = AzureClients.client(config, account, http(), env);
      } catch (SourceException e) {
        throw new SourceException(model.name() + " - " + e.getMessage(), e);
      } catch (RuntimeException e) {
        throw AzureErrors.failure(model, "setting up the client", config.credential().origin(), e);
      }
      BlobServiceClient raced = clients.putIfAbsent(account, client);
      client = raced != null ? raced : client;
    }
    BlobContainerClient container = client.getBlobContainerClient(container(model));
    return new AzureBlobs(container, config.credential().origin(), chunk);
  }

  private synchronized HttpClient http() {
    if (http == null) {
      http = AzureClients.http(executor);
    }
    return http;
  }

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    AzureBlobs blobs = blobs(model);
    return new Snapshot(null, AzureListing.list(model, blobs.container(), prefix(model), blobs));
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    return blobs(model)
        .open(
            model,
            file.path(),
            prefix(model) + file.path(),
            offset,
            end,
            file.size(),
            file.objectEtag());
  }

  @Override
  public void close() {
    clients.clear();
    threads.stop(executor, NamedThreads.STOP_WAIT, log);
  }
}
