package dev.modelcache.config;

import dev.modelcache.config.Config.AzureAuth;
import dev.modelcache.config.Config.AzureConfig;
import dev.modelcache.config.Config.AzureCredential;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code sources.azure}: the endpoint, and the one credential its requests carry. The first
 * that applies wins: a variable named by {@code connection_string_env}, {@code sas_token_env} or
 * {@code account_key_env} (at most one of them); {@code anonymous: true}; the Azure CLI's {@code
 * AZURE_STORAGE_CONNECTION_STRING}, {@code AZURE_STORAGE_SAS_TOKEN}, {@code AZURE_STORAGE_KEY} (for
 * the account {@code AZURE_STORAGE_ACCOUNT} names, or any); else Microsoft Entra ID.
 */
final class AzureReader {
  static final String CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING";
  static final String SAS_TOKEN = "AZURE_STORAGE_SAS_TOKEN";
  static final String ACCOUNT_KEY = "AZURE_STORAGE_KEY";
  static final String ACCOUNT = "AZURE_STORAGE_ACCOUNT";

  private final Map<String, String> env;

  AzureReader(Map<String, String> env) {
    this.env = env;
  }

  AzureConfig read(ConfigNode node) {
    String endpoint = node.string("endpoint");
    SourcesReader.checkEndpoint(node, endpoint == null ? null : endpoint.replace("{account}", "a"));
    String connectionEnv = node.string("connection_string_env");
    String sasEnv = node.string("sas_token_env");
    String keyEnv = node.string("account_key_env");
    boolean anonymous = node.bool("anonymous", false);
    boolean requirePins = node.bool("require_pins", false);
    List<String> named = new ArrayList<>();
    for (String[] key :
        new String[][] {
          {"connection_string_env", connectionEnv},
          {"sas_token_env", sasEnv},
          {"account_key_env", keyEnv}
        }) {
      if (key[1] != null) {
        named.add(key[0]);
      }
    }
    if (named.size() > 1 || (anonymous && !named.isEmpty())) {
      throw node.error(
          node.qualify(named.get(0)),
          "cannot be set together with "
              + (named.size() > 1 ? node.qualify(named.get(1)) : node.qualify("anonymous"))
              + ": an Azure client carries one credential; keep one of them");
    }
    AzureCredential credential;
    if (connectionEnv != null) {
      credential = named(node, "connection_string_env", connectionEnv, AzureAuth.CONNECTION_STRING);
    } else if (sasEnv != null) {
      credential = named(node, "sas_token_env", sasEnv, AzureAuth.SAS_TOKEN);
    } else if (keyEnv != null) {
      credential = named(node, "account_key_env", keyEnv, AzureAuth.ACCOUNT_KEY);
    } else if (anonymous) {
      credential = new AzureCredential(AzureAuth.ANONYMOUS, null, null, "anonymous");
    } else {
      credential = fromEnvironment();
    }
    node.finish();
    return new AzureConfig(
        endpoint == null || !endpoint.endsWith("/")
            ? endpoint
            : endpoint.substring(0, endpoint.length() - 1),
        credential,
        requirePins);
  }

  /** The secret in the variable that {@code key} names; that variable must be set. */
  private AzureCredential named(ConfigNode node, String key, String variable, AzureAuth kind) {
    Secret secret = Secret.ofNullable(env.get(variable));
    if (secret == null) {
      throw node.error(
          node.qualify(key),
          "names the environment variable "
              + variable
              + ", which is not set (or empty): set it, or remove "
              + node.qualify(key));
    }
    return new AzureCredential(kind, secret, null, "$" + variable);
  }

  /** The Azure CLI's variables, else Microsoft Entra ID. */
  private AzureCredential fromEnvironment() {
    Secret connection = Secret.ofNullable(env.get(CONNECTION_STRING));
    if (connection != null) {
      return new AzureCredential(
          AzureAuth.CONNECTION_STRING, connection, null, "$" + CONNECTION_STRING);
    }
    Secret sas = Secret.ofNullable(env.get(SAS_TOKEN));
    if (sas != null) {
      return new AzureCredential(AzureAuth.SAS_TOKEN, sas, null, "$" + SAS_TOKEN);
    }
    Secret key = Secret.ofNullable(env.get(ACCOUNT_KEY));
    if (key != null) {
      @Nullable String account = env.get(ACCOUNT);
      return new AzureCredential(
          AzureAuth.ACCOUNT_KEY,
          key,
          account == null || account.isBlank() ? null : account.strip(),
          "$" + ACCOUNT_KEY);
    }
    return new AzureCredential(AzureAuth.ENTRA_ID, null, null, "Microsoft Entra ID");
  }
}
