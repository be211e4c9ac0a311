package dev.modelcache.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reads the {@code files:} of a {@code url} model: each item's {@code url} ({@code http(s)://}, no
 * credentials), {@code path} in the snapshot (relative, no {@code ..}, unique; by default the URL's
 * last path segment) and {@code sha256} pin, required unless {@code require_pins: false}.
 *
 * <pre>{@code
 * files:
 *   - url: https://example.com/models/iris.onnx
 *     sha256: 0f3c...
 *     path: model.onnx
 * }</pre>
 */
final class UrlFilesReader {
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  private UrlFilesReader() {}

  /** One item of {@code files:}, its keys read but not yet checked. */
  record Item(
      ConfigNode node, @Nullable String url, @Nullable String path, @Nullable String sha256) {
    static Item read(ConfigNode node) {
      Item item = new Item(node, node.string("url"), node.string("path"), node.string("sha256"));
      node.finish();
      return item;
    }
  }

  /** A model's source and its pins. */
  record SourceAndPins(SourceRef source, Map<String, String> pins) {}

  /** The source and the pins of a url model, each file checked. */
  static SourceAndPins read(String name, List<Item> items, boolean requirePins, ConfigNode model) {
    if (items.isEmpty()) {
      throw model.error(
          model.qualify("files"),
          "is missing for url model '"
              + name
              + "': list each file as {url: https://..., sha256: <64 hex>, path: <name in the"
              + " snapshot>}");
    }
    List<SourceRef.UrlFile> files = new ArrayList<>();
    Map<String, String> pins = new LinkedHashMap<>();
    for (Item item : items) {
      ConfigNode node = item.node();
      String url = url(node, item.url());
      String given = item.path();
      String path = path(node, given != null ? given : lastSegment(node, url));
      for (SourceRef.UrlFile other : files) {
        if (other.path().equals(path)
            || other.path().startsWith(path + "/")
            || path.startsWith(other.path() + "/")) {
          throw node.error(
              node.qualify("path"),
              "'" + path + "' collides with '" + other.path() + "': every file needs its own path");
        }
      }
      String pin = sha256(node, item.sha256(), requirePins);
      files.add(new SourceRef.UrlFile(path, url));
      if (pin != null) {
        pins.put(path, pin);
      }
    }
    return new SourceAndPins(
        new SourceRef(SourceRef.Scheme.URL, name, null, null, "url", files), pins);
  }

  private static String url(ConfigNode node, @Nullable String text) {
    if (text == null || text.isBlank()) {
      throw node.error(node.qualify("url"), "is missing: every file needs its http(s):// URL");
    }
    URI uri;
    try {
      uri = new URI(text.strip());
    } catch (URISyntaxException e) {
      throw node.error(node.qualify("url"), "is not a URL (" + e.getReason() + ")");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if ((!scheme.equals("https") && !scheme.equals("http")) || uri.getHost() == null) {
      throw node.error(
          node.qualify("url"),
          "must be an https:// (or, for an internal mirror, http://) URL with a host, not '"
              + new SourceRef.UrlFile("", text).shown()
              + "'");
    }
    if (uri.getRawUserInfo() != null) {
      // never echo the credentials themselves
      throw node.error(
          node.qualify("url"),
          "has credentials in it (user:password@"
              + uri.getHost()
              + "): modelcache sends no credentials with url sources; serve the file without them"
              + " (or from a signed URL)");
    }
    return uri.toString();
  }

  private static String lastSegment(ConfigNode node, String url) {
    String path = URI.create(url).getRawPath();
    String last = path == null ? "" : path.substring(path.lastIndexOf('/') + 1);
    if (last.isEmpty()) {
      throw node.error(
          node.qualify("path"),
          "is missing, and the URL's path does not end in a file name: say where the file goes"
              + " in the snapshot (such as model.onnx)");
    }
    return URLDecoder.decode(last, StandardCharsets.UTF_8);
  }

  private static String path(ConfigNode node, String path) {
    boolean bad =
        path.isEmpty()
            || path.startsWith("/")
            || path.contains("\\")
            || path.chars().anyMatch(c -> c < 0x20);
    for (String segment : path.split("/", -1)) {
      bad |= segment.isEmpty() || segment.equals(".") || segment.equals("..");
    }
    if (bad) {
      throw node.error(
          node.qualify("path"),
          "'"
              + path.replaceAll("\\p{Cntrl}", "?")
              + "' must be a relative path inside the model's folder, without '..', '.' or empty"
              + " segments (such as model.onnx or onnx/model.onnx)");
    }
    return path;
  }

  private static @Nullable String sha256(
      ConfigNode node, @Nullable String text, boolean requirePins) {
    if (text == null) {
      if (requirePins) {
        throw node.error(
            node.qualify("sha256"),
            "is missing: a url file needs its SHA-256 pin, since nothing else vouches for its"
                + " bytes (sha256sum prints it); or set require_pins: false on the model to trust"
                + " the bytes on first use and record their SHA-256 in modelcache.lock");
      }
      return null;
    }
    String digest = text.strip().toLowerCase(Locale.ROOT);
    if (!SHA256.matcher(digest).matches()) {
      throw node.error(
          node.qualify("sha256"), "must be 64 hex digits (a SHA-256), not '" + text + "'");
    }
    return digest;
  }
}
