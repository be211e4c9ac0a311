package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.LoggingEvent;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import org.junit.jupiter.api.Test;

/**
 * {@code %isotime} writes what {@code %d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX}} wrote: every millisecond
 * width, within one cached second and across seconds, forwards and back.
 */
class IsoTimeConverterTest {
  private static final DateTimeFormatter LOGBACK =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").withZone(ZoneId.systemDefault());

  private static String at(IsoTimeConverter converter, long millis) {
    LoggingEvent event = new LoggingEvent();
    event.setInstant(Instant.ofEpochMilli(millis));
    return converter.convert(event);
  }

  @Test
  void writesTheTextOfLogbacksDatePattern() {
    IsoTimeConverter converter = new IsoTimeConverter();
    long base = Instant.parse("2026-12-06T13:06:40Z").toEpochMilli();
    long[] offsets = {0, 1, 9, 10, 99, 100, 157, 999, 1000, 1005, 60_000, 3_600_042, 5, -1, -1000};
    for (long offset : offsets) {
      long millis = base + offset;
      assertThat(at(converter, millis))
          .as("at %s ms", offset)
          .isEqualTo(LOGBACK.format(Instant.ofEpochMilli(millis)));
    }
  }
}
