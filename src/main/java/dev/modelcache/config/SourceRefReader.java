package dev.modelcache.config;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reads a model's {@code source:} (with its {@code repo_type:}) into a {@link SourceRef}: {@code
 * file:<dir>} resolved against the config's folder, {@code hf://org/name[@revision]}, {@code
 * s3://bucket/prefix}, {@code gs://bucket/prefix} or {@code
 * oci://registry/repository[:tag|@sha256:digest]} ({@link OciRefReader}).
 */
final class SourceRefReader {
  private static final Pattern HF_REPO =
      Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");
  private static final Pattern AZURE_ACCOUNT = Pattern.compile("[a-z0-9]{3,24}");
  private static final Pattern AZURE_CONTAINER = Pattern.compile("[a-z0-9][a-z0-9-]{1,61}[a-z0-9]");
  private static final Pattern S3_BUCKET = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{1,62}");

  private SourceRefReader() {}

  static SourceRef read(String text, @Nullable String repoType, ConfigNode node, Path baseDir) {
    if (repoType != null && !text.startsWith("hf://")) {
      throw node.error(node.qualify("repo_type"), "only applies to hf:// sources");
    }
    if (repoType != null && !repoType.equals("model") && !repoType.equals("dataset")) {
      throw node.error(
          node.qualify("repo_type"), "must be model or dataset, not '" + repoType + "'");
    }
    if (text.startsWith("file:")) {
      return file(text, node, baseDir);
    }
    if (text.startsWith("hf://")) {
      return hf(text, repoType, node);
    }
    if (text.startsWith("s3://")) {
      return bucketFolder(SourceRef.Scheme.S3, "s3://", text, node);
    }
    if (text.startsWith("gs://")) {
      return bucketFolder(SourceRef.Scheme.GCS, "gs://", text, node);
    }
    if (text.startsWith("oci://")) {
      return OciRefReader.read(text, node);
    }
    if (text.startsWith("az://") || SourceRef.azureLocation(text) != null) {
      return azure(text, node);
    }
    throw node.error(
        node.qualify("source"),
        "'"
            + text
            + "' has an unknown scheme: use file:<dir>, hf://org/name[@revision], s3://bucket/prefix,"
            + " gs://bucket/prefix, az://account/container/prefix,"
            + " oci://registry/repository[:tag|@sha256:digest] or url (with files:)");
  }

  private static SourceRef file(String text, ConfigNode node, Path baseDir) {
    String location = text.substring("file:".length());
    if (location.startsWith("//")) {
      location = location.substring(2);
    }
    if (location.isBlank()) {
      throw node.error(node.qualify("source"), "'" + text + "' names no directory");
    }
    return new SourceRef(
        SourceRef.Scheme.FILE, baseDir.resolve(location).normalize().toString(), null, null, text);
  }

  private static SourceRef hf(String text, @Nullable String repoType, ConfigNode node) {
    String rest = text.substring("hf://".length());
    int at = rest.indexOf('@');
    String repo = at < 0 ? rest : rest.substring(0, at);
    String revision = at < 0 ? "main" : rest.substring(at + 1);
    if (!HF_REPO.matcher(repo).matches()
        || revision.isBlank()
        || repo.contains("--")
        || repo.endsWith(".")) {
      throw node.error(
          node.qualify("source"), "'" + text + "' is not hf://{org}/{name}[@revision]");
    }
    return new SourceRef(
        SourceRef.Scheme.HF, repo, revision, repoType == null ? "model" : repoType, text);
  }

  /** {@code s3://bucket/prefix} or {@code gs://bucket/prefix}: the same rules for both. */
  private static SourceRef bucketFolder(
      SourceRef.Scheme scheme, String schemePrefix, String text, ConfigNode node) {
    String rest = text.substring(schemePrefix.length());
    int slash = rest.indexOf('/');
    String bucket = slash < 0 ? rest : rest.substring(0, slash);
    String prefix = slash < 0 ? "" : rest.substring(slash + 1);
    while (prefix.endsWith("/")) {
      prefix = prefix.substring(0, prefix.length() - 1);
    }
    if (!S3_BUCKET.matcher(bucket).matches() || badPrefix(prefix)) {
      throw node.error(
          node.qualify("source"),
          "'"
              + text
              + "' is not "
              + schemePrefix
              + "{bucket}/{prefix} (a bucket name of 3 to 63 letters, digits, '.', '-' or"
              + " '_', and a prefix without empty, '.' or '..' segments)");
    }
    return new SourceRef(
        scheme, prefix.isEmpty() ? bucket : bucket + "/" + prefix, null, null, text);
  }

  /**
   * {@code az://account/container[/prefix]}, or {@code
   * https://account.blob.core.windows.net/container[/prefix]}: Azure's naming rules (an account of
   * 3 to 24 lowercase letters and digits; a container of 3 to 63, with single hyphens), no query
   * string (a SAS token belongs in the environment, not in the config).
   */
  private static SourceRef azure(String text, ConfigNode node) {
    String location = SourceRef.azureLocation(text);
    String[] parts = location == null ? new String[0] : location.split("/", 3);
    String prefix = parts.length == 3 ? parts[2] : "";
    boolean valid =
        parts.length >= 2
            && AZURE_ACCOUNT.matcher(parts[0]).matches()
            && AZURE_CONTAINER.matcher(parts[1]).matches()
            && !parts[1].contains("--")
            && !badPrefix(prefix)
            && !text.contains("?")
            && !text.contains("#")
            && !text.contains("@");
    if (!valid || location == null) {
      throw node.error(
          node.qualify("source"),
          "'"
              + text.replaceAll("[?#].*", "?...")
              + "' is not az://{account}/{container}/{prefix} (or https://{account}"
              + SourceRef.AZURE_HOST_SUFFIX
              + "/{container}/{prefix}): an account of 3 to 24 lowercase letters and digits, a"
              + " container of 3 to 63 lowercase letters, digits and single hyphens, a prefix without"
              + " empty, '.' or '..' segments, and no query string (put a SAS token in the variable"
              + " that sources.azure.sas_token_env names)");
    }
    return new SourceRef(SourceRef.Scheme.AZURE, location, null, null, text);
  }

  private static boolean badPrefix(String prefix) {
    return !prefix.isEmpty()
        && (prefix.contains("\\")
            || prefix.chars().anyMatch(c -> c < 0x20)
            || Arrays.stream(prefix.split("/", -1))
                .anyMatch(s -> s.isEmpty() || s.equals(".") || s.equals("..")));
  }
}
