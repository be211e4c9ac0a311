package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * A commit's files as the Hub's tree API lists them ({@code /api/{kind}/{repo}/tree/{commit}
 * ?recursive=true}), page after page ({@code Link: rel="next"}): the whole tree as huggingface_hub
 * caches it, and the paths that the model's include/exclude patterns keep. A path that could escape
 * the model's folder refuses the whole listing.
 */
final class HubListing {
  private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");

  /** The files kept by the patterns, and every file of the commit. */
  record Listing(List<String> paths, List<TreeFile> tree) {}

  private HubListing() {}

  static Listing list(HubHttp http, ModelConfig model, String kind, String commit)
      throws IOException {
    String repo = model.source().location();
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<String> paths = new ArrayList<>();
    List<TreeFile> tree = new ArrayList<>();
    HttpUrl page =
        http.api(kind, repo)
            .addPathSegment("tree")
            .addPathSegment(commit)
            .addQueryParameter("recursive", "true")
            .addQueryParameter("expand", "false")
            .build();
    Set<HttpUrl> seen = new HashSet<>();
    while (page != null) {
      if (!seen.add(page)) {
        throw new SourceException(
            model.name()
                + " - the Hub's tree listing of "
                + repo
                + " links back to a page"
                + " already read; stopping");
      }
      try (Response response = http.call(model, http.get(page), true, "the file list")) {
        JsonNode entries = http.json().readTree(response.body().byteStream());
        if (!entries.isArray()) {
          throw new SourceException(
              model.name() + " - the Hub's file list of " + repo + " is not a JSON array");
        }
        for (JsonNode entry : entries) {
          if ("file".equals(entry.path("type").asText())) {
            String path = checked(model, commit, entry.path("path").asText());
            tree.add(treeFile(entry, path));
            if (patterns.matches(path)) {
              paths.add(path);
            }
          }
        }
        page = nextPage(response, page);
      }
    }
    return new Listing(paths, tree);
  }

  /** {@code path}, unless it could escape the model's folder. */
  private static String checked(ModelConfig model, String commit, String path)
      throws SourceException {
    if (SourceFile.escapes(path)) {
      // refused before any request: resolving it would ask the Hub for another URL
      throw new SourceException(
          model.name()
              + " - refusing the Hub's file list of "
              + model.source().location()
              + " at "
              + commit
              + ": file path '"
              + path.replaceAll("\\p{Cntrl}", "?")
              + "' is absolute or has '..', '.' or empty segments or control characters, and"
              + " could escape the model's folder; nothing was downloaded: report it to the"
              + " repository's owner or the Hub's operator");
    }
    return path;
  }

  /** A tree API entry as huggingface_hub caches it ({@code RepoFile}: oid, size, lfs, xetHash). */
  private static TreeFile treeFile(JsonNode entry, String path) {
    JsonNode lfs = entry.path("lfs");
    boolean isLfs = lfs.isObject() && lfs.hasNonNull("oid");
    return new TreeFile(
        path,
        entry.path("size").asLong(),
        entry.path("oid").asText(),
        isLfs ? lfs.path("oid").asText() : null,
        isLfs ? lfs.path("size").asLong() : null,
        entry.hasNonNull("xetHash") ? entry.path("xetHash").asText() : null);
  }

  private static @Nullable HttpUrl nextPage(Response response, HttpUrl current) {
    for (String link : response.headers("Link")) {
      Matcher next = NEXT_LINK.matcher(link);
      if (next.find()) {
        return current.resolve(next.group(1));
      }
    }
    return null;
  }
}
