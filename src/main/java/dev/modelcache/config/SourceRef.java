package dev.modelcache.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Where a model comes from, parsed from its {@code source:} string (and, for {@code url} models,
 * its {@code files:}).
 *
 * <ul>
 *   <li>{@code file:relative/or/absolute/dir}: {@code location} is the resolved absolute directory;
 *   <li>{@code hf://org/name[@revision]}: {@code location} is {@code org/name}, {@code revision}
 *       defaults to {@code main}, {@code repoType} is {@code model} or {@code dataset};
 *   <li>{@code s3://bucket/prefix}: {@code location} is {@code bucket/prefix};
 *   <li>{@code oci://registry/repository[:tag|@sha256:digest]}: {@code location} is {@code
 *       registry/repository}, {@code revision} the tag ({@code latest} by default) or {@code
 *       sha256:<hex>} of the manifest;
 *   <li>{@code gs://bucket/prefix} (Google Cloud Storage): {@code location} is {@code
 *       bucket/prefix};
 *   <li>{@code az://account/container/prefix} (or {@code
 *       https://account.blob.core.windows.net/container/prefix}): {@code location} is {@code
 *       account/container/prefix};
 *   <li>{@code url}: {@code urls} lists each file's URL and its path in the snapshot; {@code
 *       location} is the model's name (its folder is {@code url/{name}}).
 * </ul>
 *
 * @param urls the files of a {@code url} model, in config order; empty for the other schemes
 */
public record SourceRef(
    Scheme scheme,
    String location,
    @Nullable String revision,
    @Nullable String repoType,
    String text,
    List<UrlFile> urls) {

  /** The kinds of source. */
  public enum Scheme {
    FILE,
    HF,
    S3,
    GCS,
    URL,
    OCI,
    AZURE
  }

  /** The host of an account's blob endpoint in Azure's public cloud, after the account name. */
  public static final String AZURE_HOST_SUFFIX = ".blob.core.windows.net";

  /**
   * {@code account/container[/prefix]} of an Azure source text ({@code az://account/container/...}
   * or {@code https://account.blob.core.windows.net/container/...}), trailing slashes removed, not
   * validated; null when the text is neither form.
   */
  public static @Nullable String azureLocation(String text) {
    String rest;
    if (text.startsWith("az://")) {
      rest = text.substring("az://".length());
    } else if (text.startsWith("https://")) {
      int slash = text.indexOf('/', "https://".length());
      String host = text.substring("https://".length(), slash < 0 ? text.length() : slash);
      if (!host.endsWith(AZURE_HOST_SUFFIX)) {
        return null;
      }
      String account = host.substring(0, host.length() - AZURE_HOST_SUFFIX.length());
      rest = account + (slash < 0 ? "" : text.substring(slash));
    } else {
      return null;
    }
    while (rest.endsWith("/")) {
      rest = rest.substring(0, rest.length() - 1);
    }
    return rest;
  }

  /**
   * One file of a {@code url} model.
   *
   * @param path where it goes in the snapshot, relative, '/'-separated
   * @param url its {@code http(s)://} URL, without credentials
   */
  public record UrlFile(String path, String url) {
    /**
     * The URL as messages, logs and {@code modelcache.lock} show it: without its query string,
     * which may carry a signature ({@code ?...} stands for it).
     */
    public String shown() {
      int query = url.indexOf('?');
      int fragment = url.indexOf('#');
      int cut = query >= 0 ? query : fragment;
      return cut < 0 ? url : url.substring(0, cut) + (query >= 0 ? "?..." : "");
    }
  }

  public SourceRef {
    urls = List.copyOf(urls);
  }

  public SourceRef(
      Scheme scheme,
      String location,
      @Nullable String revision,
      @Nullable String repoType,
      String text) {
    this(scheme, location, revision, repoType, text, List.of());
  }

  public Path directory() {
    if (scheme != Scheme.FILE) {
      throw new IllegalStateException("not a file: source: " + text);
    }
    return Path.of(location);
  }

  /**
   * The manifest's digest (64 hex digits, no {@code sha256:}) an {@code oci://...@sha256:...}
   * source is pinned to, else null (a tag, or another scheme).
   */
  public @Nullable String ociDigest() {
    return scheme == Scheme.OCI && revision != null && revision.startsWith("sha256:")
        ? revision.substring("sha256:".length())
        : null;
  }

  /** The {@code url} file placed at {@code path}, if this source has one. */
  public Optional<UrlFile> url(String path) {
    return urls.stream().filter(f -> f.path().equals(path)).findFirst();
  }

  @Override
  public String toString() {
    return text;
  }
}
