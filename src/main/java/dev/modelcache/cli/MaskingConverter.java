package dev.modelcache.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.pattern.ReplacingCompositeConverter;

/**
 * Logback's {@code %replace} for the console line's credential mask ({@code logback.xml}), run only
 * on text that the mask's pattern can match: every one of its look-behinds needs a ':', a '=' or
 * "Bearer ", and a line with none of them (an access line, most lines) is returned as it is. The
 * regex on every line was a sixth of the request path's Java CPU samples.
 */
public final class MaskingConverter extends ReplacingCompositeConverter<ILoggingEvent> {
  @Override
  protected String transform(ILoggingEvent event, String in) {
    if (in.indexOf(':') < 0 && in.indexOf('=') < 0 && !in.contains("Bearer ")) {
      return in;
    }
    return super.transform(event, in);
  }
}
