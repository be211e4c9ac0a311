package dev.modelcache.source;

import com.google.auth.oauth2.AccessToken;
import com.google.auth.oauth2.GoogleCredentials;
import dev.modelcache.config.Config.GcsConfig;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The OAuth access token of Cloud Storage's JSON API, from Google's application default credentials
 * (the official auth library): the JSON file that {@code GOOGLE_APPLICATION_CREDENTIALS} names (a
 * service account's key, or an {@code external_account} configuration: workload identity
 * federation), else gcloud's user credentials ({@code gcloud auth application-default login}), else
 * the GCE/GKE metadata server (workload identity on GKE). The credentials are looked up on first
 * use, so a daemon without {@code gs://} models never probes the metadata server; the library
 * refreshes the token before it expires. None under {@code STORAGE_EMULATOR_HOST}.
 */
final class GcsAuth {
  static final String SCOPE = "https://www.googleapis.com/auth/devstorage.read_only";
  static final String CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS";

  private final GcsConfig config;
  private final Map<String, String> env;
  private @Nullable GoogleCredentials credentials;

  GcsAuth(GcsConfig config, Map<String, String> env) {
    this.config = config;
    this.env = Map.copyOf(env);
  }

  /** Where the credentials come from, for messages (never their content). */
  String origin() {
    if (config.emulator()) {
      return "none (STORAGE_EMULATOR_HOST)";
    }
    String file = env.get(CREDENTIALS_ENV);
    return file != null && !file.isBlank()
        ? "application default credentials from " + CREDENTIALS_ENV + " (" + file.strip() + ")"
        : "application default credentials (gcloud's, or the metadata server's)";
  }

  /** The {@code Authorization} header's value, or null when no credentials are sent. */
  @Nullable String authorization(ModelConfig model) throws IOException {
    if (config.emulator()) {
      return null;
    }
    GoogleCredentials current = credentials(model);
    try {
      current.refreshIfExpired();
    } catch (IOException e) {
      String message =
          model.name()
              + " - "
              + model.source()
              + ": getting an access token from "
              + origin()
              + " failed: "
              + e.getMessage();
      if (RetryableSourceException.isNoConnection(e) || e instanceof java.net.SocketException) {
        throw new RetryableSourceException(message, null, true);
      }
      throw new SourceException(
          message + "; check the credentials (or set an HMAC key to use the XML API instead)", e);
    }
    AccessToken token = current.getAccessToken();
    if (token == null) {
      throw new SourceException(
          model.name() + " - " + model.source() + ": " + origin() + " gave no access token");
    }
    return "Bearer " + token.getTokenValue();
  }

  private synchronized GoogleCredentials credentials(ModelConfig model) throws SourceException {
    if (credentials != null) {
      return credentials;
    }
    String file = env.get(CREDENTIALS_ENV);
    try {
      GoogleCredentials found;
      if (file != null && !file.isBlank()) {
        try (InputStream in = Files.newInputStream(Path.of(file.strip()))) {
          found = GoogleCredentials.fromStream(in);
        }
      } else {
        found = GoogleCredentials.getApplicationDefault();
      }
      credentials = found.createScoped(List.of(SCOPE));
      return credentials;
    } catch (IOException | RuntimeException e) {
      throw new SourceException(
          model.name()
              + " - "
              + model.source()
              + ": no usable "
              + origin()
              + ": "
              + e.getMessage()
              + "; set "
              + CREDENTIALS_ENV
              + " to a service account key or workload identity configuration, run 'gcloud auth"
              + " application-default login', run on GCE/GKE with a service account, or set an"
              + " HMAC key (GCS_HMAC_ACCESS_ID, GCS_HMAC_SECRET) to use the XML API",
          e);
    }
  }
}
