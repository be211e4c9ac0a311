package dev.modelcache.config;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code oci://registry/repository[:tag|@sha256:digest]}: the registry ({@code host[:port]})
 * is always named, as the first segment; the repository follows the OCI distribution spec's name
 * grammar (lower case); the tag defaults to {@code latest}; a digest must be a SHA-256.
 */
final class OciRefReader {
  private static final Pattern REGISTRY =
      Pattern.compile("(\\[[0-9A-Fa-f:]+\\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:\\d{1,5})?");
  private static final Pattern REPOSITORY =
      Pattern.compile("[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  private static final Pattern REFERENCE =
      Pattern.compile("([^/]+)/([^:@]+)(?::([^@]*))?(?:@(.*))?");
  private static final Pattern SHA256 = Pattern.compile("sha256:[0-9a-f]{64}");

  private OciRefReader() {}

  static SourceRef read(String text, ConfigNode node) {
    Matcher m = REFERENCE.matcher(text.substring("oci://".length()));
    if (!m.matches()
        || !REGISTRY.matcher(m.group(1)).matches()
        || !REPOSITORY.matcher(m.group(2)).matches()
        || m.group(2).length() > 255) {
      throw node.error(
          node.qualify("source"),
          "'"
              + text
              + "' is not oci://{registry}/{repository}[:tag|@sha256:digest] (a registry host[:port],"
              + " a repository of lower-case letters, digits and separators)");
    }
    String tag = m.group(3);
    String digest = m.group(4);
    if (tag != null && digest != null) {
      throw node.error(
          node.qualify("source"),
          "'" + text + "' names both a tag and a digest: keep one (the digest pins the bytes)");
    }
    if (tag != null && !TAG.matcher(tag).matches()) {
      throw node.error(
          node.qualify("source"),
          "'" + text + "' has an invalid tag '" + tag + "' (letters, digits, '_', '.', '-')");
    }
    if (digest != null && !SHA256.matcher(digest).matches()) {
      throw node.error(
          node.qualify("source"),
          "'"
              + text
              + "' has an invalid digest '"
              + digest
              + "': modelcache takes sha256:{64 lower-case hex digits}");
    }
    String revision = digest != null ? digest : tag != null ? tag : "latest";
    return new SourceRef(SourceRef.Scheme.OCI, m.group(1) + "/" + m.group(2), revision, null, text);
  }
}
