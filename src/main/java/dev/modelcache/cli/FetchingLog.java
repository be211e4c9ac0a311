package dev.modelcache.cli;

import dev.modelcache.inference.ModelState;
import dev.modelcache.inference.ModelStates;
import dev.modelcache.inference.ModelStatus;
import org.slf4j.Logger;
import org.slf4j.MDC;

/** The daemon's periodic progress lines while models are fetched (every 5 s, at INFO). */
final class FetchingLog {
  private FetchingLog() {}

  /** Logs one line per model still fetching: done/total, rate and time left. */
  static void log(ModelStates states, Logger log) {
    try {
      for (ModelStatus status : states.all()) {
        if (status.state() == ModelState.FETCHING && status.bytesTotal() > 0) {
          MDC.put("model", status.model());
          log.info(
              "{} - fetching {}% ({} of {} MiB, {} MiB/s, ETA {})",
              status.model(),
              status.bytesDone() * 100 / status.bytesTotal(),
              status.bytesDone() >> 20,
              status.bytesTotal() >> 20,
              String.format(java.util.Locale.ROOT, "%.1f", status.bytesPerSecond() / (1 << 20)),
              status.etaSeconds() < 0 ? "unknown" : status.etaSeconds() + " s");
        }
      }
    } catch (RuntimeException e) {
      log.warn("progress report failed", e);
    } finally {
      MDC.remove("model");
    }
  }
}
