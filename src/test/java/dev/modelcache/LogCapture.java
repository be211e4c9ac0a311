package dev.modelcache;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/** Records what one class logs while open, to assert on exact lines and levels. */
public final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final @Nullable Level previous;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  public LogCapture(Class<?> source) {
    this((Logger) LoggerFactory.getLogger(source), null);
  }

  private LogCapture(Logger logger, @Nullable Level level) {
    this.logger = logger;
    this.previous = logger.getLevel();
    if (level != null) {
      logger.setLevel(level);
    }
    appender.start();
    logger.addAppender(appender);
  }

  /**
   * Every logger's events at DEBUG and above (libraries' included) while open, as LOG_LEVEL=DEBUG
   * would log them; the root level is restored on close.
   */
  public static LogCapture everythingAtDebug() {
    return new LogCapture(
        (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME), Level.DEBUG);
  }

  /** Every event so far as {@code "LEVEL message"}. */
  public List<String> lines() {
    synchronized (appender.list) {
      return appender.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
    }
  }

  /**
   * Every event so far as {@code "LEVEL logger - message"} followed by the class and message of
   * each throwable in its cause chain: all that a log line or its stack trace could show.
   */
  public List<String> fullLines() {
    synchronized (appender.list) {
      return appender.list.stream()
          .map(
              e -> {
                StringBuilder line =
                    new StringBuilder(
                        e.getLevel() + " " + e.getLoggerName() + " - " + e.getFormattedMessage());
                for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                  line.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
                }
                return line.toString();
              })
          .toList();
    }
  }

  /** The class of the throwable logged with each event, or {@code "-"} for an event without one. */
  public List<String> thrown() {
    synchronized (appender.list) {
      return appender.list.stream()
          .map(e -> e.getThrowableProxy() == null ? "-" : e.getThrowableProxy().getClassName())
          .toList();
    }
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
    if (previous != logger.getLevel()) {
      logger.setLevel(previous);
    }
  }
}
