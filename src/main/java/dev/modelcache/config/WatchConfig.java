package dev.modelcache.config;

import java.time.Duration;

/**
 * A model's {@code watch:}: poll its branch or tag (a Hub revision, an S3 prefix's listing) every
 * {@code interval} (give or take 10 %) and switch to what it names now when it moves.
 *
 * @param interval the pause between two polls, at least {@link #MIN_INTERVAL}
 */
public record WatchConfig(Duration interval) {
  public static final Duration MIN_INTERVAL = Duration.ofSeconds(1);
  public static final Duration MAX_INTERVAL = Duration.ofDays(7);

  public WatchConfig {
    if (interval.compareTo(MIN_INTERVAL) < 0 || interval.compareTo(MAX_INTERVAL) > 0) {
      throw new IllegalArgumentException(
          "interval (" + interval + ") must be between 1 s and 7 days");
    }
  }
}
