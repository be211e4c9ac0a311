package dev.modelcache.http;

import io.javalin.http.Context;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The request id and the access log: every request carries an id ({@code X-Request-Id}, kept when
 * the client sent a sane one) in its answer and in the {@code request_id} field of every log line
 * it causes, and ends with one access-log line.
 *
 * <pre>{@code
 * config.routes.before(RequestLog::start);
 * config.requestLogger.http(RequestLog::end);
 * }</pre>
 */
final class RequestLog {
  private static final Logger access = LoggerFactory.getLogger("dev.modelcache.access");
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  static final String MDC_REQUEST_ID = "request_id";
  static final String MDC_MODEL = "model";

  private RequestLog() {}

  /** Gives the request its id, in the answer's {@code X-Request-Id} and the MDC. */
  static void start(Context ctx) {
    String id = ctx.header("X-Request-Id");
    if (id == null || !REQUEST_ID.matcher(id).matches()) {
      id = randomId();
    }
    MDC.remove(MDC_MODEL);
    MDC.put(MDC_REQUEST_ID, id);
    ctx.header("X-Request-Id", id);
  }

  /**
   * A random (version 4) UUID from {@link ThreadLocalRandom}: an id needs no secret, and {@link
   * UUID#randomUUID}'s {@code SecureRandom} (a SHA-1 per call, under a lock) was a twentieth of a
   * small request's CPU.
   */
  static String randomId() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long high = (random.nextLong() & ~0xF000L) | 0x4000L; // version 4
    long low = (random.nextLong() & ~(0xC000L << 48)) | (0x8000L << 48); // IETF variant
    return new UUID(high, low).toString();
  }

  /** Names the model the request runs on in its later log lines. */
  static void model(String model) {
    MDC.put(MDC_MODEL, model);
  }

  /**
   * One line per request when it has been answered: INFO, except probes and scrapes answered as
   * usual (DEBUG: they come every few seconds, and a probe's 503 while models load is expected);
   * then the request's MDC is cleared.
   */
  static void end(Context ctx, Float millis) {
    try {
      int status = ctx.statusCode();
      String path = ctx.path();
      boolean routine =
          (path.startsWith("/health") && (status < 300 || status == 503))
              || (path.equals("/metrics") && status < 300);
      if (routine ? access.isDebugEnabled() : access.isInfoEnabled()) {
        String line = "{} {} - {} in {} ms";
        Object[] args = {
          ctx.method(),
          path.length() > 200 ? path.substring(0, 200) + "..." : path,
          status,
          Math.round(millis)
        };
        if (routine) {
          access.debug(line, args);
        } else {
          access.info(line, args);
        }
      }
    } finally {
      MDC.remove(MDC_REQUEST_ID);
      MDC.remove(MDC_MODEL);
    }
  }
}
