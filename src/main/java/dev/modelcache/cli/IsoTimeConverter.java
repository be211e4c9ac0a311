package dev.modelcache.cli;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The console line's time ({@code logback.xml}: {@code %isotime}), the same text as {@code
 * %d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX}} in the JVM's time zone: the date, time and offset are formatted
 * once a second and the milliseconds appended. Logback's {@code %d} caches its text for one
 * millisecond only, so a busy daemon ran {@code DateTimeFormatter} on nearly every line (a sixth of
 * the access line's CPU, docs/performance.md "The HTTP side").
 */
public final class IsoTimeConverter extends ClassicConverter {
  private static final DateTimeFormatter TO_SECOND =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss");
  private static final DateTimeFormatter OFFSET = DateTimeFormatter.ofPattern("XXX");

  /** One second's text: up to the seconds, and the zone's offset then. */
  private record Second(long epochSecond, String prefix, String offset) {}

  private final ZoneId zone = ZoneId.systemDefault();
  private volatile Second cached = new Second(Long.MIN_VALUE, "", "");

  @Override
  public String convert(ILoggingEvent event) {
    long millis = event.getTimeStamp();
    long epochSecond = Math.floorDiv(millis, 1000L);
    Second second = cached;
    if (second.epochSecond() != epochSecond) {
      ZonedDateTime time = Instant.ofEpochSecond(epochSecond).atZone(zone);
      second = new Second(epochSecond, TO_SECOND.format(time), OFFSET.format(time));
      cached = second;
    }
    int ms = (int) Math.floorMod(millis, 1000L);
    StringBuilder text = new StringBuilder(second.prefix().length() + 4 + second.offset().length());
    text.append(second.prefix()).append('.');
    if (ms < 100) {
      text.append('0');
    }
    if (ms < 10) {
      text.append('0');
    }
    return text.append(ms).append(second.offset()).toString();
  }
}
