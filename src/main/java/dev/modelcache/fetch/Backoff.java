package dev.modelcache.fetch;

import java.time.Duration;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Bounded exponential backoff with jitter: attempt {@code n} waits a random time between half and
 * all of {@code min(max, base * 2^(n-1))}, or what the server asked for with {@code Retry-After}
 * (capped at {@code maxRetryAfter}).
 */
record Backoff(
    int maxAttempts, Duration base, Duration max, Duration maxRetryAfter, DoubleSupplier random) {
  static Backoff standard() {
    return new Backoff(
        6, Duration.ofMillis(500), Duration.ofSeconds(30), Duration.ofMinutes(5), Math::random);
  }

  Backoff {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts (" + maxAttempts + ") must be at least 1");
    }
  }

  /** The wait before retry number {@code attempt} (1 for the first retry). */
  Duration delay(int attempt, @Nullable Duration retryAfter) {
    if (retryAfter != null) {
      return retryAfter.compareTo(maxRetryAfter) > 0 ? maxRetryAfter : retryAfter;
    }
    long ceiling = Math.min(max.toMillis(), base.toMillis() << Math.min(attempt - 1, 20));
    return Duration.ofMillis((long) (ceiling * (0.5 + 0.5 * random.getAsDouble())));
  }

  /** Pauses the calling thread; tests record the pauses instead. */
  interface Sleeper {
    void sleep(Duration duration) throws InterruptedException;
  }
}
