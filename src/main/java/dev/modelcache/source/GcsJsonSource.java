package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.config.Config.GcsConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.source.S3Listing.LockedDigest;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import okhttp3.OkHttpClient;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A folder of a Cloud Storage bucket read through the JSON API with application default credentials
 * ({@link GcsAuth}): every object under the prefix is a file (include/exclude applied), each read
 * pinned to its listed generation, so an object replaced during a fetch fails instead of mixing two
 * contents. What vouches for a file's SHA-256 (after config and {@code modelcache.lock} pins, in
 * the fetch): the entry of a {@code modelcache.lock} object at the root of the prefix (as {@code
 * modelcache mirror} writes one, its size matching the object's), else a {@code {name}.sha256}
 * sidecar object. The object's {@code crc32c} and {@code md5Hash} check transport only ({@link
 * ObjectHashes}). A file nothing vouches for is trusted on first use, or refused under {@code
 * require_pins}.
 */
final class GcsJsonSource implements ModelSource {
  private static final Logger log = LoggerFactory.getLogger(GcsJsonSource.class);
  private final GcsJson json;

  GcsJsonSource(GcsConfig config, OkHttpClient client, Map<String, String> env) {
    this.json = new GcsJson(client, config.jsonEndpoint(), new GcsAuth(config, env));
  }

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    String bucket = S3Source.bucket(model);
    String prefix = S3Source.prefix(model);
    Map<String, GcsJson.Listed> listed = json.list(model, bucket, prefix);
    List<GcsJson.Listed> objects = GcsJson.files(model, listed);
    if (objects.isEmpty()) {
      throw new SourceException(
          model.name()
              + " - no objects under "
              + model.source()
              + (model.include().isEmpty() && model.exclude().isEmpty()
                  ? ""
                  : " matching include/exclude")
              + ": check the bucket, the prefix and the patterns");
    }
    Map<String, LockedDigest> mirrored =
        listed.containsKey(S3Source.LOCK_OBJECT)
            ? S3Listing.parseLock(model, json.lock(model, bucket, prefix + S3Source.LOCK_OBJECT))
            : Map.of();
    List<SourceFile> files = new ArrayList<>();
    for (GcsJson.Listed object : objects) {
      files.add(describe(model, bucket, prefix, object, listed, mirrored));
    }
    return new Snapshot(null, files);
  }

  private SourceFile describe(
      ModelConfig model,
      String bucket,
      String prefix,
      GcsJson.Listed object,
      Map<String, GcsJson.Listed> listed,
      Map<String, LockedDigest> mirrored)
      throws IOException {
    String path = object.path();
    if (SourceFile.escapes(path)) {
      throw new SourceException(
          model.name()
              + " - the object '"
              + HubErrors.truncate(path)
              + "' of "
              + model.source()
              + " has a name that is not a plain relative path and could escape the model's"
              + " folder; rename the object or exclude it");
    }
    JsonNode metadata = object.metadata();
    long size = metadata.path("size").asLong(-1);
    String generation = metadata.path("generation").asText(null);
    if (size < 0 || generation == null) {
      throw new SourceException(
          model.name() + " - the listing gave no size or generation for " + path);
    }
    String sha256 = null;
    String origin = null;
    String sidecar = path + S3Source.SIDECAR_SUFFIX;
    LockedDigest locked = mirrored.get(path);
    if (locked != null && locked.size() != size) {
      log.warn(
          "{} - {}: {} bytes in the bucket's {}, {} in the bucket: that entry is ignored",
          model.name(),
          path,
          locked.size(),
          S3Source.LOCK_OBJECT,
          size);
      locked = null;
    }
    if (locked != null) {
      sha256 = locked.sha256();
      origin = "the bucket's " + S3Source.LOCK_OBJECT;
    } else if (listed.containsKey(sidecar)) {
      sha256 = json.sidecar(model, bucket, prefix + sidecar, sidecar);
      origin = "the sidecar object " + sidecar;
    }
    return new SourceFile(
        path,
        size,
        sha256,
        null,
        origin,
        S3Source.unquote(metadata.path("etag").asText(null)),
        generation,
        ObjectHashes.of(
            metadata.path("crc32c").asText(null),
            metadata.path("md5Hash").asText(null),
            "the object's metadata"));
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    if (offset >= end) {
      return new ByteArrayInputStream(new byte[0]);
    }
    boolean whole = offset == 0 && end == file.size();
    Response response =
        json.media(
            model,
            S3Source.bucket(model),
            S3Source.prefix(model) + file.path(),
            file.path(),
            file.versionId(),
            offset,
            whole ? -1 : end);
    return new FilterInputStream(response.body().byteStream()) {
      @Override
      public void close() {
        response.close();
      }
    };
  }

  @Override
  public void close() {
    // the HTTP client belongs to the caller
  }
}
