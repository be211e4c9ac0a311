package dev.modelcache.source;

import com.azure.core.credential.TokenCredential;
import com.azure.core.http.HttpClient;
import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.core.http.policy.HttpLogDetailLevel;
import com.azure.core.http.policy.HttpLogOptions;
import com.azure.identity.AzureCliCredentialBuilder;
import com.azure.identity.ChainedTokenCredentialBuilder;
import com.azure.identity.EnvironmentCredentialBuilder;
import com.azure.identity.ManagedIdentityCredentialBuilder;
import com.azure.identity.WorkloadIdentityCredentialBuilder;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.common.StorageSharedKeyCredential;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;
import dev.modelcache.config.Config.AzureConfig;
import dev.modelcache.config.Config.AzureCredential;
import dev.modelcache.config.Secret;
import dev.modelcache.config.SourceRef;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Builds the SDK's blob client of one storage account: the JDK's HTTP client (HTTP/1.1, threads
 * owned by the source), no SDK retries (the fetch's backoff and retry metrics see every failure),
 * no HTTP logging, and the one credential of {@code sources.azure}. Microsoft Entra ID is a chain
 * of the credentials a server has: a service principal from the environment ({@code
 * AZURE_CLIENT_ID}, {@code AZURE_TENANT_ID}, {@code AZURE_CLIENT_SECRET} or a certificate),
 * workload identity ({@code AZURE_FEDERATED_TOKEN_FILE}), managed identity, then the Azure CLI's
 * login; the desktop ones of {@code DefaultAzureCredential} (IDE caches) are left out.
 */
final class AzureClients {
  private static final Pattern ACCOUNT_NAME = Pattern.compile("(?i)(?:^|;)\\s*AccountName=([^;]*)");

  private AzureClients() {}

  /** The JDK HTTP client every account's client shares; its threads come from {@code executor}. */
  static HttpClient http(ExecutorService executor) {
    return new JdkHttpClientBuilder(
            java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1))
        .executor(executor)
        .connectionTimeout(Duration.ofSeconds(15))
        .responseTimeout(Duration.ofSeconds(60))
        .readTimeout(Duration.ofSeconds(60))
        .build();
  }

  /**
   * The client of {@code account}; fails (naming the credential's origin, never its value) when a
   * connection string names another account.
   */
  static BlobServiceClient client(
      AzureConfig config, String account, HttpClient http, Map<String, String> env)
      throws SourceException {
    BlobServiceClientBuilder builder =
        new BlobServiceClientBuilder()
            .httpClient(http)
            .retryOptions(
                new RequestRetryOptions(RetryPolicyType.FIXED, 1, (Integer) null, null, null, null))
            .httpLogOptions(new HttpLogOptions().setLogLevel(HttpLogDetailLevel.NONE));
    AzureCredential credential = config.credential();
    Secret secret = credential.secret();
    boolean endpointFromCredential = false;
    switch (credential.kind()) {
      case CONNECTION_STRING -> {
        String named = accountName(reveal(secret));
        if (named != null && !named.equals(account)) {
          throw new SourceException(
              "the connection string in "
                  + credential.origin()
                  + " is for account '"
                  + named
                  + "', not '"
                  + account
                  + "': set sources.azure.connection_string_env to a variable holding that"
                  + " account's");
        }
        builder.connectionString(reveal(secret));
        endpointFromCredential = true;
      }
      case SAS_TOKEN -> builder.sasToken(stripQuestionMark(reveal(secret)));
      case ACCOUNT_KEY -> {
        if (credential.keyAccount() == null || credential.keyAccount().equals(account)) {
          builder.credential(new StorageSharedKeyCredential(account, reveal(secret)));
        } else {
          builder.credential(entraId(http, env)); // AZURE_STORAGE_KEY is another account's
        }
      }
      case ANONYMOUS -> {}
      case ENTRA_ID -> builder.credential(entraId(http, env));
    }
    String endpoint = config.endpoint();
    if (endpoint != null) {
      builder.endpoint(endpoint.replace("{account}", account));
    } else if (!endpointFromCredential) {
      builder.endpoint("https://" + account + SourceRef.AZURE_HOST_SUFFIX);
    }
    return builder.buildClient();
  }

  /** The chain of server credentials (see the class comment); each is tried in turn. */
  private static TokenCredential entraId(HttpClient http, Map<String, String> env) {
    ChainedTokenCredentialBuilder chain =
        new ChainedTokenCredentialBuilder()
            .addLast(new EnvironmentCredentialBuilder().httpClient(http).build());
    String clientId = env.get("AZURE_CLIENT_ID");
    if (env.get("AZURE_FEDERATED_TOKEN_FILE") != null
        && clientId != null
        && env.get("AZURE_TENANT_ID") != null) {
      chain.addLast(
          new WorkloadIdentityCredentialBuilder()
              .httpClient(http)
              .clientId(clientId)
              .tenantId(env.get("AZURE_TENANT_ID"))
              .tokenFilePath(env.get("AZURE_FEDERATED_TOKEN_FILE"))
              .build());
    }
    ManagedIdentityCredentialBuilder managed =
        new ManagedIdentityCredentialBuilder().httpClient(http);
    if (clientId != null) {
      managed.clientId(clientId); // a user-assigned identity
    }
    return chain.addLast(managed.build()).addLast(new AzureCliCredentialBuilder().build()).build();
  }

  static @Nullable String accountName(String connectionString) {
    Matcher matcher = ACCOUNT_NAME.matcher(connectionString);
    return matcher.find() ? matcher.group(1).strip() : null;
  }

  private static String reveal(@Nullable Secret secret) {
    if (secret == null) {
      throw new IllegalStateException(
          "an Azure key, SAS or connection string credential has a secret");
    }
    return secret.reveal();
  }

  private static String stripQuestionMark(String sas) {
    return sas.startsWith("?") ? sas.substring(1) : sas;
  }
}
