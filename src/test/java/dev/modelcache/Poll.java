package dev.modelcache;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Waits for what can only be asked about, not waited on: another process's readiness, a gauge, a
 * scrape. Asks, and while the answer does not do, pauses {@code every} and asks again, until {@code
 * timeout} has passed; then fails naming what was awaited and the last answer. A probe that throws
 * ends the wait at once (a child process that died, an assertion).
 *
 * <pre>{@code
 * Poll.until(Duration.ofSeconds(20), Duration.ofMillis(20), "the re-check", () -> stale.isEmpty());
 * }</pre>
 */
public final class Poll {
  private Poll() {}

  /** A question asked again and again. */
  @FunctionalInterface
  public interface Probe<T> {
    T ask() throws Exception;
  }

  /** What the failure says, made of the last answer (a child's log may be read for it). */
  @FunctionalInterface
  public interface Failure<T> {
    String describe(T last) throws Exception;
  }

  /** A condition asked again and again. */
  @FunctionalInterface
  public interface Condition {
    boolean holds() throws Exception;
  }

  /**
   * Returns once {@code condition} holds.
   *
   * @throws AssertionError {@code "waited {timeout} for {what}"} when it did not within {@code
   *     timeout}
   */
  public static void until(Duration timeout, Duration every, String what, Condition condition)
      throws Exception {
    until(
        timeout,
        every,
        condition::holds,
        held -> held,
        held -> "waited " + timeout + " for " + what);
  }

  /**
   * Returns the first answer of {@code probe} that is {@code done}.
   *
   * @throws AssertionError with the message {@code failure} makes of the last answer when none was
   *     done within {@code timeout}
   */
  public static <T> T until(
      Duration timeout,
      Duration every,
      Probe<T> probe,
      Predicate<? super T> done,
      Failure<? super T> failure)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      T answer = probe.ask();
      if (done.test(answer)) {
        return answer;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError(failure.describe(answer));
      }
      TimeUnit.NANOSECONDS.sleep(every.toNanos()); // pacing the questions, not synchronising
    }
  }
}
