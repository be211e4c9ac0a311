package dev.modelcache.source;

import com.azure.storage.blob.models.BlobStorageException;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * What an Azure Blob Storage failure means for a model: the message names the model, the file (or
 * the listing), the status and Azure's error code, and says what to do; throttling, server errors,
 * an unreachable endpoint and a blob replaced during the fetch are {@link
 * RetryableSourceException}s. Messages never carry a SAS token, a key or a connection string: they
 * name the credential by where it came from.
 */
final class AzureErrors {
  private AzureErrors() {}

  /** A failure the SDK threw while doing {@code what} ("listing az://...", "GET model.pt"). */
  static SourceException failure(
      ModelConfig model, String what, String credential, RuntimeException e) {
    if (e instanceof BlobStorageException storage) {
      return status(
          model,
          what,
          credential,
          storage.getStatusCode(),
          storage.getErrorCode() == null ? null : storage.getErrorCode().toString(),
          null);
    }
    Throwable cause = e;
    while (cause != null && !(cause instanceof IOException)) {
      cause = cause.getCause();
    }
    if (cause != null || e instanceof UncheckedIOException) {
      return unreachable(model, what, cause != null ? cause : e);
    }
    return new SourceException(
        model.name() + " - " + what + " of " + model.source() + " failed: " + message(e), e);
  }

  /** The endpoint could not be reached, or the connection broke. */
  static RetryableSourceException unreachable(ModelConfig model, String what, Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && !RetryableSourceException.isNoConnection(root)) {
      root = root.getCause();
    }
    return new RetryableSourceException(
        model.name()
            + " - "
            + what
            + ": cannot reach the blob endpoint of "
            + model.source()
            + ": "
            + message(e),
        null,
        RetryableSourceException.isNoConnection(root));
  }

  /**
   * The failure that an answer with {@code status} (and Azure's {@code x-ms-error-code}, when it
   * gave one) means.
   */
  static SourceException status(
      ModelConfig model,
      String what,
      String credential,
      int status,
      @Nullable String code,
      @Nullable Duration retryAfter) {
    String said =
        model.name()
            + " - "
            + what
            + " of "
            + model.source()
            + " answered HTTP "
            + status
            + (code == null || code.isBlank() ? "" : " " + code);
    if (status == 429 || status >= 500) {
      return new RetryableSourceException(said + "; the service is busy or failing", retryAfter);
    }
    if (status == 412) {
      return new RetryableSourceException(
          said + ": the blob changed upstream while it was fetched; fetch again", null);
    }
    if (status == 416) {
      return new RangeNotSatisfiableException(said);
    }
    String advice =
        switch (status) {
          case 401, 403 ->
              "Azure refused the credential ("
                  + credential
                  + "): check that the key, SAS token or connection string is for this account and"
                  + " has not expired or been rotated, that a SAS allows read and list, or that the"
                  + " identity has the Storage Blob Data Reader role on the container";
          case 404 ->
              "ContainerNotFound".equals(code)
                  ? "no such container in that account: check the account and container of the"
                      + " source"
                  : "BlobNotFound".equals(code)
                      ? "the blob is gone: it was deleted since the listing; fetch again"
                      : "no such resource: check the account, the container and"
                          + " sources.azure.endpoint";
          default -> "check the source and sources.azure";
        };
    return new SourceException(said + "; " + advice);
  }

  private static String message(Throwable e) {
    String message = e.getMessage();
    String text = message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
    // a message of the SDK may quote a URL: cut its query string, which may hold a SAS signature
    text = text.replaceAll("\\?[^\\s\"']*", "?...");
    return text.length() > 300 ? text.substring(0, 300) + "..." : text;
  }
}
