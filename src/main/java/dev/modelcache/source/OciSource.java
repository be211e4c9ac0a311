package dev.modelcache.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.config.Config.OciConfig;
import dev.modelcache.config.ModelConfig;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Models stored as OCI artifacts in a registry ({@code
 * oci://registry/repository[:tag|@sha256:...]}, the layout of ORAS): the manifest, asked for by tag
 * or digest, lists the files as layers titled by their paths ({@link OciManifest}); each file's
 * bytes are the layer's blob, resumed with {@code Range}. The registry's content addressing vouches
 * for every byte: a layer's digest is its SHA-256, and the manifest's own SHA-256 is checked
 * against the pinned digest (or the registry's {@code Docker-Content-Digest}) and names the
 * snapshot.
 *
 * <pre>{@code
 * try (OciSource source = new OciSource(config.sources().oci(), http)) {
 *   Snapshot snapshot = source.resolve(model); // revision: the manifest's digest, 64 hex digits
 * }
 * }</pre>
 */
public final class OciSource implements ModelSource {
  /** Registries may refuse bigger manifests (the distribution spec's 4 MiB). */
  private static final int MAX_MANIFEST = 4 << 20;

  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

  private final OciHttp http;
  private final ObjectMapper json = new ObjectMapper();

  /**
   * @param client an OkHttp client, which the caller owns and closes
   */
  public OciSource(OciConfig config, OkHttpClient client) {
    this(config, client, System.getenv());
  }

  /**
   * @param client an OkHttp client, which the caller owns and closes
   * @param env the environment whose {@code PATH} Docker's credential helpers are found on
   */
  public OciSource(OciConfig config, OkHttpClient client, Map<String, String> env) {
    this.http = new OciHttp(config, client, env);
  }

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    String pinned = model.source().ociDigest();
    String reference =
        pinned != null
            ? "sha256:" + pinned
            : Objects.requireNonNull(model.source().revision(), "an oci:// source has a tag");
    String shown =
        "the manifest " + model.source().location() + (pinned != null ? "@" : ":") + reference;
    Request request =
        new Request.Builder()
            .url(http.url(model.source().location(), "manifests", reference))
            .header("Accept", OciManifest.ACCEPT)
            .get()
            .build();
    try (Response response = http.send(model, request, shown)) {
      byte[] body = response.body().byteStream().readNBytes(MAX_MANIFEST + 1);
      if (body.length > MAX_MANIFEST) {
        throw new SourceException(
            model.name() + " - " + shown + " is over 4 MiB: not a model's manifest");
      }
      String actual = sha256(body);
      String advertised = response.header("Docker-Content-Digest");
      if (pinned != null && !pinned.equals(actual)) {
        throw new SourceException(
            model.name()
                + " - "
                + shown
                + ": sha256 mismatch: expected "
                + pinned
                + " (the source's digest), actual "
                + actual
                + "; the registry served other bytes than the digest names: check the registry");
      }
      if (advertised != null
          && advertised.startsWith("sha256:")
          && !advertised.equals("sha256:" + actual)) {
        throw new RetryableSourceException(
            model.name()
                + " - "
                + shown
                + ": sha256 mismatch: expected "
                + advertised.substring("sha256:".length())
                + " (the registry's Docker-Content-Digest), actual "
                + actual
                + "; the manifest was damaged in transit",
            null);
      }
      JsonNode manifest = json.readTree(body);
      List<SourceFile> files =
          OciManifest.files(model, manifest, response.header("Content-Type"), shown);
      return new Snapshot(actual, files);
    }
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    String digest = "sha256:" + Objects.requireNonNull(file.sha256(), "a layer has its digest");
    String what = file.path() + " (blob " + digest + ")";
    boolean partial = offset > 0 || end < file.size();
    Request.Builder request =
        new Request.Builder().url(http.url(model.source().location(), "blobs", digest)).get();
    if (partial) {
      request.header("Range", "bytes=" + offset + "-" + (end - 1));
    }
    Response response = http.send(model, request.build(), what);
    try {
      InputStream in = response.body().byteStream();
      if (partial && response.code() == 206) {
        checkRange(model, what, response, offset);
      } else if (partial) {
        // the registry (or its storage) ignored Range: skip what we have, stop at the range's end
        in.skipNBytes(offset);
        in = new LimitedInputStream(in, end - offset);
      }
      return new FilterInputStream(in) {
        @Override
        public void close() {
          response.close();
        }
      };
    } catch (IOException | RuntimeException e) {
      response.close();
      throw e;
    }
  }

  private static void checkRange(ModelConfig model, String what, Response response, long offset)
      throws RetryableSourceException {
    Matcher range = CONTENT_RANGE.matcher(response.header("Content-Range", ""));
    if (!range.matches() || Long.parseLong(range.group(1)) != offset) {
      throw new RetryableSourceException(
          model.name()
              + " - "
              + what
              + ": asked for bytes from "
              + offset
              + " but got Content-Range '"
              + HubErrors.truncate(response.header("Content-Range", ""))
              + "'",
          null);
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /**
   * Nothing to release: the HTTP client, whose connections and threads this source shares, is its
   * caller's to close.
   */
  @Override
  public void close() {}
}
