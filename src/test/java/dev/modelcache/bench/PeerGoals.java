package dev.modelcache.bench;

import dev.modelcache.bench.PeersBench.Result;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The lines under the peers table that read it against issue #18's goals, so that no one has to do
 * the arithmetic: the ratios of the rows' medians at c=1 and c=32 (index 0 and 2 of each row's
 * figures), each with its goal and whether it is met.
 */
final class PeerGoals {
  private PeerGoals() {}

  /**
   * The lines, from the medians by {@code model/kind} ({@link PeersBench.Target#kind}) and the
   * effective batch size of each model's batched daemon; a ratio whose row did not run says so.
   */
  static List<String> lines(
      Map<String, Result[]> medians, Map<String, Integer> batch, String batching) {
    List<String> out = new ArrayList<>();
    Result[] mc = medians.get("iris/modelcache");
    Result[] py = medians.get("iris/fastapi");
    Result[] ceiling = medians.get("iris/ceiling");
    if (mc != null) {
      out.add(
          BenchTable.fmt(
              "iris, goals of issue #18: `/inference` c=32 = %s FastAPI (goal >= 3x: %s), %s of"
                  + " the ceiling (goal >= 50 %%: %s); c=1 p50 = %.3f ms (goal <= 0.3 ms: %s)",
              times(mc, py, 2),
              met(py == null ? null : ratio(mc, py, 2) >= 3),
              percent(mc, ceiling, 2),
              met(ceiling == null ? null : ratio(mc, ceiling, 2) >= 0.5),
              mc[0].p50(),
              met(mc[0].p50() <= 0.3)));
    }
    batching(out, "iris", mc, medians.get("iris/batched"), batch, batching, false);
    grpc(out, "iris", mc, medians.get("iris/grpc"), ceiling);
    Result[] lm = medians.get("all-MiniLM-L6-v2/modelcache");
    Result[] lmPy = medians.get("all-MiniLM-L6-v2/fastapi");
    if (lm != null) {
      out.add(
          BenchTable.fmt(
              "all-MiniLM-L6-v2, goal of issue #18: `/inference` c=32 = %s FastAPI (goal >= 2x:"
                  + " %s)",
              times(lm, lmPy, 2), met(lmPy == null ? null : ratio(lm, lmPy, 2) >= 2)));
    }
    Result[] lmBatched = medians.get("all-MiniLM-L6-v2/batched");
    batching(out, "all-MiniLM-L6-v2", lm, lmBatched, batch, batching, true);
    grpc(out, "all-MiniLM-L6-v2", lm, medians.get("all-MiniLM-L6-v2/grpc"), null);
    return out;
  }

  private static void batching(
      List<String> out,
      String model,
      Result[] off,
      Result[] on,
      Map<String, Integer> batch,
      String batching,
      boolean goals) {
    if (off == null || on == null) {
      return;
    }
    Integer effective = batch.get(model);
    out.add(
        BenchTable.fmt(
            "%s, %s (effective max_size %s) vs off: c=32 %s%s, c=1 %s%s; p50 at c=1 %.2f vs %.2f"
                + " ms",
            model,
            batching,
            effective == null || effective < 0 ? "unknown" : effective.toString(),
            times(on, off, 2),
            goals ? " (goal >= 1.3x: " + met(ratio(on, off, 2) >= 1.3) + ")" : "",
            times(on, off, 0),
            goals ? " (goal >= 0.9x: " + met(ratio(on, off, 0) >= 0.9) + ")" : " (no goal)",
            on[0].p50(),
            off[0].p50()));
  }

  private static void grpc(
      List<String> out, String model, Result[] http, Result[] grpc, Result[] ceiling) {
    if (http == null || grpc == null) {
      return;
    }
    out.add(
        BenchTable.fmt(
            "%s, gRPC `ModelInfer` vs HTTP `/inference` (no goal): c=1 %s, c=32 %s; p50 at c=1"
                + " %.3f vs %.3f ms%s",
            model,
            times(grpc, http, 0),
            times(grpc, http, 2),
            grpc[0].p50(),
            http[0].p50(),
            ceiling == null
                ? ""
                : "; gRPC c=32 = " + percent(grpc, ceiling, 2) + " of the ceiling"));
  }

  /** req/s of {@code a} over {@code b} at concurrency index {@code k}. */
  static double ratio(Result[] a, Result[] b, int k) {
    return a[k].perSecond() / b[k].perSecond();
  }

  private static String times(Result[] a, Result[] b, int k) {
    return b == null ? "(not run)" : BenchTable.fmt("%.2fx", ratio(a, b, k));
  }

  private static String percent(Result[] a, Result[] b, int k) {
    return b == null ? "(not run)" : BenchTable.fmt("%.0f %%", 100 * ratio(a, b, k));
  }

  private static String met(Boolean met) {
    return met == null ? "not measured" : met ? "yes" : "**no**";
  }
}
