package dev.modelcache.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.bench.PeersBench.Result;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PeerGoalsTest {
  /** Figures at c=1, 8 and 32: req/s, and the p50 at c=1 in ms. */
  private static Result[] row(double c1, double c8, double c32, double p50) {
    return new Result[] {
      new Result(0, c1, p50, 1, 0), new Result(0, c8, 1, 1, 0), new Result(0, c32, 1, 1, 0)
    };
  }

  @Test
  void readsEveryRowAgainstTheIssuesGoals() {
    Map<String, Result[]> medians = new LinkedHashMap<>();
    medians.put("iris/modelcache", row(2000, 4000, 6000, 0.25));
    medians.put("iris/batched", row(1800, 4000, 6600, 0.30));
    medians.put("iris/grpc", row(3000, 6000, 9000, 0.20));
    medians.put("iris/fastapi", row(1500, 2500, 3000, 0.4));
    medians.put("iris/ceiling", row(10000, 20000, 24000, 0.05));
    medians.put("all-MiniLM-L6-v2/modelcache", row(100, 150, 200, 10));
    medians.put("all-MiniLM-L6-v2/batched", row(95, 200, 300, 11));
    medians.put("all-MiniLM-L6-v2/fastapi", row(90, 90, 80, 9));

    List<String> lines =
        PeerGoals.lines(medians, Map.of("iris", 16, "all-MiniLM-L6-v2", 16), PeersBench.BATCHING);

    assertThat(lines)
        .containsExactly(
            "iris, goals of issue #18: `/inference` c=32 = 2.00x FastAPI (goal >= 3x: **no**), 25 %"
                + " of the ceiling (goal >= 50 %: **no**); c=1 p50 = 0.250 ms (goal <= 0.3 ms:"
                + " yes)",
            "iris, batching `max_size: 16, max_delay_ms: 5` (effective max_size 16) vs off: c=32"
                + " 1.10x, c=1 0.90x (no goal); p50 at c=1 0.30 vs 0.25 ms",
            "iris, gRPC `ModelInfer` vs HTTP `/inference` (no goal): c=1 1.50x, c=32 1.50x; p50"
                + " at c=1 0.200 vs 0.250 ms; gRPC c=32 = 38 % of the ceiling",
            "all-MiniLM-L6-v2, goal of issue #18: `/inference` c=32 = 2.50x FastAPI (goal >= 2x:"
                + " yes)",
            "all-MiniLM-L6-v2, batching `max_size: 16, max_delay_ms: 5` (effective max_size 16)"
                + " vs off: c=32 1.50x (goal >= 1.3x: yes), c=1 0.95x (goal >= 0.9x: yes); p50 at"
                + " c=1 11.00 vs 10.00 ms");
  }

  @Test
  void saysWhatDidNotRun() {
    Map<String, Result[]> medians = new LinkedHashMap<>();
    medians.put("iris/modelcache", row(2000, 4000, 6000, 0.5));

    assertThat(PeerGoals.lines(medians, Map.of(), PeersBench.BATCHING))
        .containsExactly(
            "iris, goals of issue #18: `/inference` c=32 = (not run) FastAPI (goal >= 3x: not"
                + " measured), (not run) of the ceiling (goal >= 50 %: not measured); c=1 p50 ="
                + " 0.500 ms (goal <= 0.3 ms: **no**)");
  }
}
