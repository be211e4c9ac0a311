package dev.modelcache.config;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads byte sizes written for people: {@code 1048576}, {@code 512MiB}, {@code 512 MiB}, {@code
 * 2G}. Binary units ({@code KiB MiB GiB TiB}, and {@code K M G T} as the JVM's {@code -Xmx} reads
 * them) are powers of 1024; decimal ones ({@code KB MB GB TB}) powers of 1000. Case is ignored.
 */
final class ByteSizes {
  private static final Pattern SIZE =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([a-z]*)", Pattern.CASE_INSENSITIVE);
  private static final Map<String, Long> UNITS =
      Map.ofEntries(
          Map.entry("", 1L),
          Map.entry("b", 1L),
          Map.entry("k", 1L << 10),
          Map.entry("kib", 1L << 10),
          Map.entry("kb", 1000L),
          Map.entry("m", 1L << 20),
          Map.entry("mib", 1L << 20),
          Map.entry("mb", 1000_000L),
          Map.entry("g", 1L << 30),
          Map.entry("gib", 1L << 30),
          Map.entry("gb", 1000_000_000L),
          Map.entry("t", 1L << 40),
          Map.entry("tib", 1L << 40),
          Map.entry("tb", 1000_000_000_000L));

  private ByteSizes() {}

  /**
   * The bytes {@code text} names.
   *
   * @throws IllegalArgumentException naming what is wrong, to follow the key's name
   */
  static long parse(String text) {
    Matcher m = SIZE.matcher(text.strip());
    Long unit = m.matches() ? UNITS.get(m.group(2).toLowerCase(Locale.ROOT)) : null;
    if (unit == null) {
      throw new IllegalArgumentException(
          "must be a size such as 1073741824, 512MiB or 2GiB (units B, KiB, MiB, GiB, TiB, K, M,"
              + " G, T, KB, MB, GB, TB), not '"
              + text
              + "'");
    }
    BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
    if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("(" + text + ") is too large");
    }
    return bytes.longValue();
  }
}
