package dev.modelcache.metrics;

import java.util.Locale;

/**
 * The one formatter of byte counts for people: log lines and messages, in binary units.
 *
 * <pre>{@code
 * ByteSize.human(300_000); // "293.0 KiB"
 * ByteSize.mib(300_000);   // "0.3 MiB"
 * }</pre>
 */
public final class ByteSize {
  private static final double KIB = 1024.0;
  private static final double MIB = KIB * 1024;
  private static final double GIB = MIB * 1024;

  private ByteSize() {}

  /** {@code bytes} in the largest unit it reaches: "512 B", "1.5 KiB", "12.0 MiB", "1.25 GiB". */
  public static String human(long bytes) {
    if (bytes < KIB) {
      return bytes + " B";
    }
    if (bytes < MIB) {
      return String.format(Locale.ROOT, "%.1f KiB", bytes / KIB);
    }
    if (bytes < GIB) {
      return mib(bytes);
    }
    return String.format(Locale.ROOT, "%.2f GiB", bytes / GIB);
  }

  /** {@code bytes} in MiB whatever their size, one decimal: "0.3 MiB", "600.0 MiB". */
  public static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / MIB);
  }
}
