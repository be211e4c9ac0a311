package dev.modelcache.source;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Reads at most {@code limit} bytes of a stream: the end of a byte range, or all a download may
 * write (see {@link #overrun}).
 */
public final class LimitedInputStream extends FilterInputStream {
  private long left;

  public LimitedInputStream(InputStream in, long limit) {
    super(in);
    this.left = limit;
  }

  @Override
  public int read() throws IOException {
    if (left <= 0) {
      return -1;
    }
    int b = super.read();
    if (b >= 0) {
      left--;
    }
    return b;
  }

  @Override
  public int read(byte[] buffer, int off, int len) throws IOException {
    if (left <= 0) {
      return -1;
    }
    int n = super.read(buffer, off, (int) Math.min(len, left));
    if (n > 0) {
      left -= n;
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped = super.skip(Math.min(n, left));
    left -= skipped;
    return skipped;
  }

  @Override
  public int available() throws IOException {
    return (int) Math.min(super.available(), left);
  }

  /**
   * Once the limit is reached, how many bytes the stream still has past it, counted (and dropped)
   * up to a little over {@code most}: 0 when it ends right at the limit.
   */
  public long overrun(long most) throws IOException {
    byte[] sink = new byte[8192];
    long extra = 0;
    for (int n; extra <= most && (n = in.read(sink)) >= 0; ) {
      extra += n;
    }
    return extra;
  }
}
