package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.FakeClock;
import dev.modelcache.inference.ModelStates;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FetchProgressTest {
  private static final long MIB = 1024 * 1024;
  private final FakeClock clock = new FakeClock();
  private final ModelStates states =
      new ModelStates(List.of("iris", "digits"), Set.of("iris", "digits"), clock);
  private final StringWriter text = new StringWriter();

  @Test
  void plainModePrintsALinePerFetchingModelAtMostEveryFiveSeconds() {
    FetchProgress progress = new FetchProgress(states, new PrintWriter(text), false, clock);
    states.fetching("iris", 10 * MIB);
    progress.tick();
    clock.advance(Duration.ofSeconds(2));
    states.fetched("iris", 2 * MIB);
    progress.tick();
    assertThat(text.toString()).as("nothing before the first 5 s").isEmpty();

    clock.advance(Duration.ofSeconds(3));
    progress.tick();
    assertThat(text.toString())
        .isEqualTo("iris - fetching 20%: 2.0 of 10.0 MiB, 0.4 MiB/s, ETA 20 s\n");

    clock.advance(Duration.ofSeconds(4));
    states.fetched("iris", 2 * MIB);
    progress.tick();
    assertThat(text.toString().lines()).as("4 s later: nothing new").hasSize(1);

    clock.advance(Duration.ofSeconds(1));
    progress.tick();
    assertThat(text.toString().lines())
        .containsExactly(
            "iris - fetching 20%: 2.0 of 10.0 MiB, 0.4 MiB/s, ETA 20 s",
            "iris - fetching 40%: 4.0 of 10.0 MiB, 0.4 MiB/s, ETA 15 s");

    states.verifying("iris");
    clock.advance(Duration.ofSeconds(5));
    progress.tick();
    assertThat(text.toString().lines()).as("no model fetching: no line").hasSize(2);
  }

  @Test
  void plainModeSaysWhatItDoesNotKnow() {
    FetchProgress progress = new FetchProgress(states, new PrintWriter(text), false, clock);
    states.fetching("digits", 0);
    progress.tick();
    clock.advance(Duration.ofSeconds(5));
    progress.tick();
    assertThat(text.toString())
        .isEqualTo("digits - fetching 0.0 of ? MiB, 0.0 MiB/s, ETA unknown\n");
  }

  @Test
  void terminalModeRedrawsOneLinePerModelInPlaceAtMostEvery200Ms() {
    FetchProgress progress = new FetchProgress(states, new PrintWriter(text), true, clock);
    states.fetching("iris", 8 * MIB);
    clock.advance(Duration.ofSeconds(1));
    states.fetched("iris", 2 * MIB);
    progress.tick();
    String first = "iris [######------------------]  25% 2.0/8.0 MiB 2.0 MiB/s ETA 3 s\n";
    assertThat(text.toString()).isEqualTo(first);

    clock.advance(Duration.ofMillis(100));
    progress.tick();
    assertThat(text.toString()).as("100 ms later: no redraw").isEqualTo(first);

    clock.advance(Duration.ofMillis(100));
    states.fetched("iris", 2 * MIB);
    progress.tick();
    assertThat(text.toString())
        .isEqualTo(
            first
                + "\033[1F\033[J"
                + "iris [############------------]  50% 4.0/8.0 MiB 3.3 MiB/s ETA 2 s\n");

    progress.println(new PrintWriter(text), "ok iris");
    progress.finish();
    assertThat(text.toString()).endsWith("\033[1F\033[Jok iris\n");
  }

  @Test
  void etaReadsLikeAPerson() {
    assertThat(FetchProgress.eta(-1)).isEqualTo("unknown");
    assertThat(FetchProgress.eta(45)).isEqualTo("45 s");
    assertThat(FetchProgress.eta(200)).isEqualTo("3 min 20 s");
    assertThat(FetchProgress.eta(7500)).isEqualTo("2 h 5 min");
  }
}
