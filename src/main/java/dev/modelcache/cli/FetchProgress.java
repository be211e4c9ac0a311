package dev.modelcache.cli;

import dev.modelcache.inference.ModelState;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.inference.ModelStatus;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * What {@code modelcache fetch} shows while it downloads. On a terminal: one line per model being
 * fetched (a bar, done/total MiB, rate and time left), redrawn in place at most every {@link
 * #TERMINAL_INTERVAL}. Elsewhere (a pipe, a log collector): one plain line per model being fetched
 * at most every {@link #PLAIN_INTERVAL}, the first after one interval, so quick fetches print none.
 *
 * <pre>{@code
 * FetchProgress progress = new FetchProgress(states, err, terminal, Clock.systemUTC());
 * scheduler.scheduleAtFixedRate(progress::tick, 200, 200, MILLISECONDS);
 * }</pre>
 */
final class FetchProgress {
  static final Duration TERMINAL_INTERVAL = Duration.ofMillis(200);
  static final Duration PLAIN_INTERVAL = Duration.ofSeconds(5);
  private static final int BAR_WIDTH = 24;
  private static final double MIB = 1024 * 1024;

  private final ModelStates states;
  private final PrintWriter out;
  private final boolean terminal;
  private final Clock clock;
  private @Nullable Instant last;
  private int linesShown; // terminal: the lines of the last drawing, still on screen

  /**
   * @param out where the display goes (stderr)
   * @param terminal whether {@code out} is a terminal that understands ANSI cursor movement
   */
  FetchProgress(ModelStates states, PrintWriter out, boolean terminal, Clock clock) {
    this.states = states;
    this.out = out;
    this.terminal = terminal;
    this.clock = clock;
  }

  /** Draws when the interval has passed since the last drawing; call it often. */
  synchronized void tick() {
    Instant now = clock.instant();
    if (last == null) {
      last = now;
      if (!terminal) {
        return;
      }
    } else if (Duration.between(last, now).compareTo(terminal ? TERMINAL_INTERVAL : PLAIN_INTERVAL)
        < 0) {
      return;
    }
    last = now;
    List<String> lines = new ArrayList<>();
    for (ModelStatus status : states.all()) {
      if (status.state() == ModelState.FETCHING) {
        lines.add(terminal ? terminalLine(status) : plainLine(status));
      }
    }
    if (terminal) {
      erase();
    }
    lines.forEach(out::println);
    if (terminal) {
      linesShown = lines.size();
    }
    out.flush();
  }

  /** Takes the drawn lines off the screen, then prints {@code line} to {@code target}. */
  synchronized void println(PrintWriter target, String line) {
    erase();
    target.println(line);
    target.flush();
  }

  /** Takes the drawn lines off the screen, for good. */
  synchronized void finish() {
    erase();
  }

  /**
   * {@code target} behind a guard that takes the drawn lines off the screen before anything else (a
   * log line) is written, so that the next drawing comes below it instead of over it.
   */
  OutputStream guarding(OutputStream target) {
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        synchronized (FetchProgress.this) {
          erase();
          target.write(b);
        }
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        synchronized (FetchProgress.this) {
          erase();
          target.write(b, off, len);
        }
      }

      @Override
      public void flush() throws IOException {
        target.flush();
      }
    };
  }

  private void erase() {
    if (linesShown > 0) {
      // cursor to the start of the first drawn line, then clear to the end of the screen
      out.print("\033[" + linesShown + "F\033[J");
      out.flush();
      linesShown = 0;
    }
  }

  static String terminalLine(ModelStatus status) {
    long total = status.bytesTotal();
    long done = status.bytesDone();
    StringBuilder line = new StringBuilder(status.model()).append(' ');
    if (total > 0) {
      int filled = (int) Math.min(BAR_WIDTH, done * BAR_WIDTH / total);
      line.append('[')
          .append("#".repeat(filled))
          .append("-".repeat(BAR_WIDTH - filled))
          .append("] ")
          .append(String.format(Locale.ROOT, "%3d%%", done * 100 / total))
          .append(String.format(Locale.ROOT, " %.1f/%.1f MiB", done / MIB, total / MIB));
    } else {
      line.append(String.format(Locale.ROOT, "%.1f MiB", done / MIB));
    }
    return line.append(String.format(Locale.ROOT, " %.1f MiB/s", status.bytesPerSecond() / MIB))
        .append(" ETA ")
        .append(eta(status.etaSeconds()))
        .toString();
  }

  static String plainLine(ModelStatus status) {
    long total = status.bytesTotal();
    long done = status.bytesDone();
    return String.format(
        Locale.ROOT,
        "%s - fetching %s%.1f of %s MiB, %.1f MiB/s, ETA %s",
        status.model(),
        total > 0 ? done * 100 / total + "%: " : "",
        done / MIB,
        total > 0 ? String.format(Locale.ROOT, "%.1f", total / MIB) : "?",
        status.bytesPerSecond() / MIB,
        eta(status.etaSeconds()));
  }

  /** "45 s", "3 min 20 s", "2 h 5 min", or "unknown". */
  static String eta(long seconds) {
    if (seconds < 0) {
      return "unknown";
    }
    if (seconds < 60) {
      return seconds + " s";
    }
    if (seconds < 3600) {
      return seconds / 60 + " min " + seconds % 60 + " s";
    }
    return seconds / 3600 + " h " + seconds % 3600 / 60 + " min";
  }
}
