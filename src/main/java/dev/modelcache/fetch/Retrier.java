package dev.modelcache.fetch;

import dev.modelcache.config.ModelConfig;
import dev.modelcache.metrics.Metrics;
import dev.modelcache.source.RetryableSourceException;
import dev.modelcache.source.SourceException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one retry policy of a fetch, for listings and transfers alike: what may pass (429, 5xx, a cut
 * connection) is tried again after a bounded, jittered backoff that honours {@code Retry-After},
 * each retry counted ({@link Metrics#FETCH_RETRIES}) and logged.
 */
final class Retrier {
  // the fetch's log category: operators and tests follow one logger for the whole fetch
  private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

  private final Backoff backoff;
  private final Backoff.Sleeper sleeper;
  private final Metrics metrics;

  Retrier(Backoff backoff, Backoff.Sleeper sleeper, Metrics metrics) {
    this.backoff = backoff;
    this.sleeper = sleeper;
    this.metrics = metrics;
  }

  /** A call to a source that may fail with a {@link RetryableSourceException}. */
  interface SourceCall<T> {
    T call() throws IOException;
  }

  /**
   * Runs {@code action}, retrying {@link RetryableSourceException}s with backoff; one that {@code
   * giveUp} accepts is thrown at once.
   */
  <T> T call(
      ModelConfig model,
      String sourceLabel,
      String what,
      SourceCall<T> action,
      Predicate<RetryableSourceException> giveUp)
      throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        return action.call();
      } catch (RetryableSourceException e) {
        if (giveUp.test(e)) {
          throw e;
        }
        if (exhausted(attempt)) {
          throw new SourceException(
              e.getMessage() + " (gave up after " + attempt + " attempts)", e);
        }
        try {
          pause(model, sourceLabel, what, "", attempt, e);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException(
              model.name() + " - interrupted while waiting to retry " + what);
        }
      }
    }
  }

  /** Whether attempt number {@code attempt} was the last one allowed. */
  boolean exhausted(int attempt) {
    return attempt >= backoff.maxAttempts();
  }

  /**
   * Counts, logs and waits out the pause after failed attempt number {@code attempt} of {@code
   * what}; {@code from} says where the next attempt starts ("" or " from byte n").
   */
  void pause(
      ModelConfig model,
      String sourceLabel,
      String what,
      String from,
      int attempt,
      IOException cause)
      throws InterruptedException {
    Duration wait =
        backoff.delay(attempt, cause instanceof RetryableSourceException r ? r.retryAfter() : null);
    metrics.fetchRetries(model.name(), sourceLabel).increment();
    // A source's message may already start with "<model> - <what>: " (the S3 source's do): said
    // once
    String head = model.name() + " - " + what;
    String message = String.valueOf(cause.getMessage());
    log.warn(
        "{}; retrying in {} ms{} (attempt {} of {})",
        message.startsWith(head + ": ") ? message : head + ": " + message,
        wait.toMillis(),
        from,
        attempt + 1,
        backoff.maxAttempts());
    sleeper.sleep(wait);
  }
}
