package dev.modelcache;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** A clock that moves only when told. */
public final class FakeClock extends Clock {
  private static final Instant START = Instant.parse("2025-01-01T00:00:00Z");
  private volatile Instant now = START;

  public void advance(Duration by) {
    now = now.plus(by);
  }

  /**
   * Nanoseconds since the clock's start, moved only by {@link #advance}: {@code clock::nanoTime}
   * stands in for {@link System#nanoTime} where deadlines are read.
   */
  public long nanoTime() {
    return Duration.between(START, now).toNanos();
  }

  @Override
  public Instant instant() {
    return now;
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    return this;
  }
}
