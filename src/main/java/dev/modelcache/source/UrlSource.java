package dev.modelcache.source;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef.UrlFile;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import okhttp3.OkHttpClient;
import okhttp3.Response;

/**
 * Files named by their {@code http(s)://} URLs ({@code source: url} with {@code files:}), each
 * placed at its configured path in the snapshot. The listing is the config's: each file's size
 * comes from a {@code HEAD} (or a one-byte {@code GET} where {@code HEAD} is refused), and whether
 * the server serves byte ranges from its {@code Accept-Ranges}. The bytes come from a {@code GET},
 * resumed with {@code Range}. A URL vouches for no digest: the {@code sha256} pins of the config
 * (or of {@code modelcache.lock}, under {@code require_pins: false}) do.
 *
 * <p>Redirects are followed to any host; nothing secret travels with them, since a url source sends
 * no credentials at all. Messages name a URL without its query string, which may carry a signature.
 */
public final class UrlSource implements ModelSource {
  private final UrlHttp http;

  /** Per URL, whether its server said it serves byte ranges (learnt by {@link #resolve}). */
  private final Map<String, Boolean> ranges = new ConcurrentHashMap<>();

  /**
   * @param client an OkHttp client, which the caller owns and closes
   */
  public UrlSource(OkHttpClient client) {
    this.http = new UrlHttp(client);
  }

  @Override
  public Snapshot resolve(ModelConfig model) throws IOException {
    List<SourceFile> files = new ArrayList<>();
    for (UrlFile file : model.source().urls()) {
      UrlHttp.Described described = http.describe(model, file);
      ranges.put(file.url(), described.ranges());
      files.add(new SourceFile(file.path(), described.size(), null, null));
    }
    return new Snapshot(null, files);
  }

  /** A server that did not say {@code Accept-Ranges: bytes} gets one request per file. */
  @Override
  public boolean ranges(ModelConfig model, SourceFile file) {
    return model
        .source()
        .url(file.path())
        .map(f -> ranges.getOrDefault(f.url(), false))
        .orElse(false);
  }

  @Override
  public InputStream open(
      ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end)
      throws IOException {
    UrlFile url =
        model
            .source()
            .url(file.path())
            .orElseThrow(() -> new SourceException(model.name() + " - no URL for " + file.path()));
    boolean partial = offset > 0 || end < file.size();
    Response response = http.get(model, url, partial ? "bytes=" + offset + "-" + (end - 1) : null);
    try {
      InputStream in = response.body().byteStream();
      if (partial && response.code() == 206) {
        UrlHttp.checkRange(model, url, response, offset);
      } else if (partial) {
        // the server ignored Range: read past what we already have, and stop at the range's end
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

  /**
   * Nothing to release: the HTTP client, whose connections and threads this source shares, is its
   * caller's to close.
   */
  @Override
  public void close() {}
}
