package dev.modelcache.inference;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * A consistent view of one model's progress at one moment.
 *
 * @param bytesDone bytes fetched so far in the current fetch (0 outside FETCHING)
 * @param bytesTotal bytes the current fetch will move (0 when unknown or outside FETCHING)
 * @param bytesPerSecond rate of the current fetch over the last {@link ModelStates#RATE_WINDOW} (0
 *     while nothing moves)
 * @param reason why the model FAILED, else null
 * @param since when the model entered this state
 */
public record ModelStatus(
    String model,
    ModelState state,
    long bytesDone,
    long bytesTotal,
    double bytesPerSecond,
    @Nullable String reason,
    Instant since) {

  /** Seconds left at the current rate, or -1 when unknown (nothing moved lately). */
  public long etaSeconds() {
    if (state != ModelState.FETCHING || bytesPerSecond <= 0 || bytesTotal <= 0) {
      return -1;
    }
    return (long) Math.ceil(Math.max(0, bytesTotal - bytesDone) / bytesPerSecond);
  }
}
