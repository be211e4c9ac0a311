package dev.modelcache.source;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.ListBlobsOptions;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The files of a model's folder in a container: every blob under the prefix (the SDK follows the
 * continuation markers), folder markers (names ending in '/') skipped, include/exclude applied, a
 * name that would escape the model's folder refused, and each file's SHA-256 from a {@code
 * {name}.sha256} sidecar blob beside it (its first word, 64 hex digits); sidecars are not files of
 * the model. Each file keeps its ETag: its bytes are read under {@code If-Match}.
 */
final class AzureListing {
  static final String SIDECAR_SUFFIX = ".sha256";
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
  private static final int MAX_BLOBS = 1_000_000;
  private static final int MAX_SIDECAR_BYTES = 4096;

  /** A blob as listed: its size and ETag (quotes removed). */
  private record Listed(long size, @Nullable String etag) {}

  private AzureListing() {}

  /** The files of {@code model} in {@code container}, sidecars read through {@code blobs}. */
  static List<SourceFile> list(
      ModelConfig model, BlobContainerClient container, String prefix, AzureBlobs blobs)
      throws IOException {
    Map<String, Listed> listed = blobs(model, container, prefix, blobs.credential());
    PathPatterns patterns = new PathPatterns(model.include(), model.exclude());
    List<SourceFile> files = new ArrayList<>();
    for (Map.Entry<String, Listed> blob : listed.entrySet()) {
      String path = blob.getKey();
      boolean sidecar =
          path.endsWith(SIDECAR_SUFFIX)
              && listed.containsKey(path.substring(0, path.length() - SIDECAR_SUFFIX.length()));
      if (sidecar || !patterns.matches(path)) {
        continue;
      }
      checkPath(model, prefix, path);
      String sidecarPath = path + SIDECAR_SUFFIX;
      Listed sidecarBlob = listed.get(sidecarPath);
      String sha256 =
          sidecarBlob == null
              ? null
              : readSidecar(model, blobs, prefix + sidecarPath, sidecarPath, sidecarBlob);
      files.add(
          new SourceFile(
              path,
              blob.getValue().size(),
              sha256,
              null,
              sha256 == null ? null : "the sidecar blob " + sidecarPath,
              blob.getValue().etag(),
              null));
    }
    if (files.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - "
              + model.source()
              + " has no blobs"
              + (model.include().isEmpty() && model.exclude().isEmpty()
                  ? ""
                  : " matching include/exclude")
              + "; check the account, container and prefix");
    }
    return files;
  }

  /** Every blob under the prefix, by its name relative to it, sorted. */
  private static Map<String, Listed> blobs(
      ModelConfig model, BlobContainerClient container, String prefix, String credential)
      throws SourceException {
    Map<String, Listed> listed = new TreeMap<>();
    try {
      int seen = 0;
      for (BlobItem item :
          container.listBlobs(
              new ListBlobsOptions().setPrefix(prefix.isEmpty() ? null : prefix), null)) {
        if (++seen > MAX_BLOBS) {
          throw new SourceException(
              model.name()
                  + " - the listing of "
                  + model.source()
                  + " has over "
                  + MAX_BLOBS
                  + " blobs; narrow the prefix");
        }
        String name = item.getName();
        if (Boolean.TRUE.equals(item.isPrefix())
            || !name.startsWith(prefix)
            || name.endsWith("/")
            || name.length() == prefix.length()) {
          continue; // a folder marker, or the prefix itself
        }
        Long size = item.getProperties().getContentLength();
        listed.put(
            name.substring(prefix.length()),
            new Listed(size == null ? 0 : size, S3Source.unquote(item.getProperties().getETag())));
      }
    } catch (RuntimeException e) {
      throw AzureErrors.failure(model, "listing", credential, e);
    }
    return listed;
  }

  private static String readSidecar(
      ModelConfig model, AzureBlobs blobs, String name, String path, Listed blob)
      throws IOException {
    long end = Math.min(blob.size(), MAX_SIDECAR_BYTES);
    byte[] bytes;
    try (InputStream in = blobs.open(model, path, name, 0, end, blob.size(), blob.etag())) {
      bytes = in.readNBytes(MAX_SIDECAR_BYTES);
    }
    String text = new String(bytes, StandardCharsets.UTF_8).strip();
    String first = text.isEmpty() ? "" : text.split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
    if (!HEX64.matcher(first).matches()) {
      throw new SourceException(
          model.name()
              + " - the sidecar blob "
              + path
              + " of "
              + model.source()
              + " does not start with a SHA-256 (64 hex digits, as sha256sum writes it); fix or"
              + " delete it");
    }
    return first;
  }

  private static void checkPath(ModelConfig model, String prefix, String path)
      throws SourceException {
    if (SourceFile.escapes(path)) {
      throw new SourceException(
          model.name()
              + " - refusing blob '"
              + (prefix + path).replaceAll("\\p{Cntrl}", "?")
              + "' of "
              + model.source()
              + ": as a file path it is absolute or has '..', '.' or empty segments or control"
              + " characters, and could escape the model's folder; rename the blob or exclude it");
    }
  }
}
