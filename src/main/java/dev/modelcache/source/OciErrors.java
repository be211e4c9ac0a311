package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import okhttp3.Response;

/**
 * A registry's failed answer as a {@link SourceException} that says what to do: the status, the
 * first error code of its body ({@code MANIFEST_UNKNOWN}, {@code NAME_UNKNOWN}, {@code DENIED}...),
 * and advice by status; 429 and 5xx are retryable. Never a credential.
 */
final class OciErrors {
  private OciErrors() {}

  static SourceException error(
      ModelConfig model, Response response, String what, String credentialsOrigin) {
    int status = response.code();
    String code = code(response);
    String text =
        model.name()
            + " - "
            + registryOf(model)
            + " answered HTTP "
            + status
            + (code.isEmpty() ? "" : " " + code)
            + " for "
            + what;
    if (status == 429 || status >= 500) {
      return new RetryableSourceException(text, HubErrors.retryAfter(response));
    }
    if (status == 416) {
      return new RangeNotSatisfiableException(text);
    }
    String advice =
        switch (status) {
          case 401, 403 ->
              "the registry refuses the login from "
                  + credentialsOrigin
                  + ": run 'docker login "
                  + registryOf(model)
                  + "' with an account that may pull "
                  + repositoryOf(model)
                  + ", or set sources.oci.docker_config";
          case 404 ->
              code.equals("NAME_UNKNOWN")
                  ? "no repository " + repositoryOf(model) + " there: check the source"
                  : what.startsWith("the manifest")
                      ? "no such tag or digest in "
                          + repositoryOf(model)
                          + ": check the source's tag or digest (push the artifact first?)"
                      : "the manifest names a blob that the registry does not have: push the"
                          + " artifact again";
          default -> "check the source and the registry";
        };
    return new SourceException(text + "; " + advice);
  }

  /** A {@code Basic} challenge with no login for the registry in Docker's config. */
  static SourceException noLogin(
      ModelConfig model, String registry, String what, String credentialsOrigin) {
    return new SourceException(
        model.name()
            + " - "
            + registry
            + " asks for a login for "
            + what
            + ", and there is none for it in "
            + credentialsOrigin
            + ": run 'docker login "
            + registry
            + "', or set sources.oci.docker_config");
  }

  /** The token service refused: with a login, the login is wrong; without one, it is needed. */
  static SourceException tokenRefused(
      ModelConfig model,
      String registry,
      Response response,
      boolean withLogin,
      String credentialsOrigin) {
    String text =
        model.name()
            + " - the token service of "
            + registry
            + " answered HTTP "
            + response.code()
            + " for "
            + repositoryOf(model);
    if (response.code() == 429 || response.code() >= 500) {
      return new RetryableSourceException(text, HubErrors.retryAfter(response));
    }
    return new SourceException(
        text
            + (withLogin
                ? "; it refuses the login from " + credentialsOrigin + ": run 'docker login "
                : "; it needs a login, and there is none for it in "
                    + credentialsOrigin
                    + ": run 'docker login ")
            + registry
            + "', or set sources.oci.docker_config");
  }

  private static String registryOf(ModelConfig model) {
    String location = model.source().location();
    return location.substring(0, location.indexOf('/'));
  }

  private static String repositoryOf(ModelConfig model) {
    String location = model.source().location();
    return location.substring(location.indexOf('/') + 1);
  }

  /** The first error code of an OCI error body ({@code {"errors": [{"code": ...}]}}), or "". */
  private static String code(Response response) {
    try {
      JsonNode body = new ObjectMapper().readTree(response.body().byteStream());
      String code = body == null ? "" : body.path("errors").path(0).path("code").asText("");
      return code.matches("[A-Z_]{1,40}") ? code : "";
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}
