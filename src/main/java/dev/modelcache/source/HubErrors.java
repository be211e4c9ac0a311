package dev.modelcache.source;

import dev.modelcache.config.Config.HfConfig;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import okhttp3.HttpUrl;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * What a failed answer of the Hub means, as a {@link SourceException} that says what to do: 429 and
 * 5xx (and an unreachable host) may pass and are {@link RetryableSourceException}s, 416 is a {@link
 * RangeNotSatisfiableException}, and the Hub's {@code X-Error-Code} (RepoNotFound,
 * RevisionNotFound, EntryNotFound, GatedRepo), 401 and 403 name the fix. The token never appears.
 */
final class HubErrors {
  private HubErrors() {}

  static RetryableSourceException unreachable(
      ModelConfig model, HttpUrl url, String what, IOException e) {
    return new RetryableSourceException(
        model.name()
            + " - cannot reach "
            + url.host()
            + ":"
            + url.port()
            + " for "
            + what
            + ": "
            + e.getMessage(),
        null,
        RetryableSourceException.isNoConnection(e));
  }

  /** The failure that {@code response} (not successful) of the Hub means for {@code what}. */
  static SourceException error(ModelConfig model, HfConfig config, Response response, String what) {
    int status = response.code();
    String serverMessage = response.header("X-Error-Message");
    String name = model.name() + " - ";
    if (status == 429 || status >= 500) {
      return new RetryableSourceException(
          name
              + "the Hub answered HTTP "
              + status
              + " for "
              + what
              + (serverMessage == null ? "" : " (" + truncate(serverMessage) + ")"),
          retryAfter(response));
    }
    if (status == 416) {
      return new RangeNotSatisfiableException(
          name
              + "the Hub has no bytes in the range asked for "
              + what
              + " (HTTP 416, "
              + response.header("Content-Range", "no Content-Range")
              + ")");
    }
    return new SourceException(
        name
            + refusal(
                model, config, response.header("X-Error-Code", ""), status, what, serverMessage));
  }

  /** What a refusal the Hub names by its {@code X-Error-Code} means, and what to do about it. */
  private static String refusal(
      ModelConfig model,
      HfConfig config,
      String code,
      int status,
      String what,
      String serverMessage) {
    String repo = model.source().location();
    boolean token = config.token() != null;
    return switch (code) {
      case "RepoNotFound" ->
          "repository "
              + repo
              + " not found on "
              + config.endpoint()
              + " (HTTP "
              + status
              + "): check the name in "
              + model.source()
              + (token
                  ? ", and that the token in HF_TOKEN can read it"
                  : "; if it is private, set HF_TOKEN to a token that can read it");
      case "RevisionNotFound" ->
          "revision '"
              + model.source().revision()
              + "' not found in "
              + repo
              + ": check the branch, tag or commit after '@' in "
              + model.source();
      case "EntryNotFound" -> what + ": no such file in " + repo + " (HTTP " + status + ")";
      case "GatedRepo" ->
          repo
              + " is gated: accept its conditions on "
              + config.endpoint()
              + "/"
              + repo
              + " while logged in, then set HF_TOKEN to a token of that account"
              + (token ? " (the current token has no access yet)" : "");
      default -> byStatus(repo, token, status, what, serverMessage);
    };
  }

  /** A refusal without an error code the Hub names: 401, 403 or another status. */
  private static String byStatus(
      String repo, boolean token, int status, String what, String serverMessage) {
    if (status == 401) {
      return token
          ? "the Hub rejected the token in HF_TOKEN (HTTP 401) for " + what + ": check or renew it"
          : "the Hub needs a token for " + what + " of " + repo + " (HTTP 401): set HF_TOKEN";
    }
    if (status == 403) {
      return "the Hub denied access to "
          + what
          + " of "
          + repo
          + " (HTTP 403): check that the token in HF_TOKEN can read it";
    }
    return "the Hub answered HTTP "
        + status
        + " for "
        + what
        + " of "
        + repo
        + (serverMessage == null ? "" : ": " + truncate(serverMessage));
  }

  /** {@code Retry-After} in seconds or as an HTTP date; null when absent or unreadable. */
  static @Nullable Duration retryAfter(Response response) {
    String value = response.header("Retry-After");
    if (value == null) {
      return null;
    }
    try {
      return Duration.ofSeconds(Long.parseLong(value.strip()));
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(value.strip(), DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration wait = Duration.between(ZonedDateTime.now(at.getZone()), at);
        return wait.isNegative() ? Duration.ZERO : wait;
      } catch (DateTimeParseException e) {
        return null;
      }
    }
  }

  /** {@code text} of the server, fit for a message: no control characters, at most 200 of them. */
  static String truncate(String text) {
    String clean = text.replaceAll("\\p{Cntrl}", " ");
    return clean.length() <= 200 ? clean : clean.substring(0, 200) + "...";
  }
}
