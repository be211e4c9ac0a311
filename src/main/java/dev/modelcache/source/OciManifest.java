package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.ModelConfig;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OCI artifact's manifest as ORAS writes it, read into the model's files: each layer titled by
 * its {@code org.opencontainers.image.title} annotation is the file at that path, with the layer's
 * size and SHA-256 digest. Untitled layers (an image's filesystem layers) are left out, and a
 * manifest without any titled layer is refused: tar layers are not unpacked, so a KServe modelcar
 * image (the model under {@code /models} of a tar layer) is not a model here. An image index is
 * refused with its manifests listed, to pin one by its digest.
 */
final class OciManifest {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger("dev.modelcache.fetch.Fetcher");

  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  static final String ACCEPT =
      String.join(", ", OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST);

  static final String TITLE = "org.opencontainers.image.title";
  private static final String UNPACK = "io.deis.oras.content.unpack";
  static final String LAYER_DIGEST = "the registry's layer digest";

  private OciManifest() {}

  /**
   * The files of {@code manifest} (its media type from the body, else {@code contentType}) that
   * {@code model}'s include/exclude select.
   */
  static List<SourceFile> files(
      ModelConfig model, JsonNode manifest, @Nullable String contentType, String shown)
      throws SourceException {
    String mediaType = manifest.path("mediaType").asText(contentType == null ? "" : contentType);
    if (mediaType.startsWith(OCI_INDEX)
        || mediaType.startsWith(DOCKER_LIST)
        || manifest.has("manifests")) {
      throw index(model, manifest, shown);
    }
    if (manifest.path("schemaVersion").asInt() != 2 || !manifest.path("layers").isArray()) {
      throw new SourceException(
          model.name() + " - " + shown + " is not an OCI image manifest (schema 2 with layers)");
    }
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<SourceFile> files = new ArrayList<>();
    Set<String> paths = new HashSet<>();
    int untitled = 0;
    for (JsonNode layer : manifest.path("layers")) {
      String path = layer.path("annotations").path(TITLE).asText("");
      if (path.isEmpty()) {
        untitled++;
        continue;
      }
      check(model, shown, layer, path, paths);
      if (patterns.matches(path)) {
        files.add(
            new SourceFile(
                path,
                layer.path("size").asLong(),
                layer.path("digest").asText().substring("sha256:".length()),
                null,
                LAYER_DIGEST,
                null,
                null));
      }
    }
    checkSelection(model, shown, paths, untitled, files);
    return files;
  }

  /** Refuses a manifest without files (a modelcar image) or a selection without any. */
  private static void checkSelection(
      ModelConfig model, String shown, Set<String> paths, int untitled, List<SourceFile> files)
      throws SourceException {
    if (paths.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - "
              + shown
              + " has no layer titled by "
              + TITLE
              + ": modelcache fetches ORAS-style artifacts (one layer per file, titled by its path),"
              + " and does not unpack image tar layers (a KServe modelcar image): push the model's"
              + " files with 'oras push'");
    }
    if (untitled > 0) {
      log.info(
          "{} - {}: {} untitled layer(s) left out (only layers titled by {} are files)",
          model.name(),
          shown,
          untitled,
          TITLE);
    }
    if (files.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - no file of "
              + shown
              + " matches include/exclude (files: "
              + String.join(", ", paths)
              + ")");
    }
  }

  private static void check(
      ModelConfig model, String shown, JsonNode layer, String path, Set<String> paths)
      throws SourceException {
    String what = model.name() + " - " + shown + ": the layer titled '" + HubErrors.truncate(path);
    if (SourceFile.escapes(path)) {
      throw new SourceException(what + "' names a path outside the model's folder: refused");
    }
    if (!paths.add(path)) {
      throw new SourceException(what + "' is there twice: refused");
    }
    if ("true".equals(layer.path("annotations").path(UNPACK).asText())) {
      throw new SourceException(
          what
              + "' is a folder packed as a tar archive ("
              + UNPACK
              + "), which modelcache does not unpack: push the folder's files one by one");
    }
    if (!layer.path("digest").asText().matches("sha256:[0-9a-f]{64}")) {
      throw new SourceException(
          what
              + "' has the digest '"
              + HubErrors.truncate(layer.path("digest").asText())
              + "': modelcache takes SHA-256 layer digests only");
    }
    if (!layer.path("size").canConvertToLong() || layer.path("size").asLong() < 0) {
      throw new SourceException(what + "' has no valid size");
    }
  }

  private static SourceException index(ModelConfig model, JsonNode index, String shown) {
    List<String> entries = new ArrayList<>();
    for (JsonNode entry : index.path("manifests")) {
      JsonNode platform = entry.path("platform");
      String kind =
          platform.isObject()
              ? platform.path("os").asText("?") + "/" + platform.path("architecture").asText("?")
              : entry.path("artifactType").asText(entry.path("mediaType").asText("?"));
      entries.add(HubErrors.truncate(entry.path("digest").asText("?")) + " (" + kind + ")");
      if (entries.size() == 10) {
        break;
      }
    }
    return new SourceException(
        model.name()
            + " - "
            + shown
            + " is an image index, not one artifact's manifest: pin one of its manifests with"
            + " @sha256:... in the source ("
            + String.join(", ", entries)
            + ")");
  }
}
