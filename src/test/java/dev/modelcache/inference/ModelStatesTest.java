package dev.modelcache.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ModelStatesTest {
  private final FakeClock clock = new FakeClock();
  private final ModelStates states = new ModelStates(List.of("m"), Set.of("m"), clock);

  @Test
  void rateAndEtaFollowTheBytesOfTheCurrentFetch() {
    states.fetching("m", 1000);
    assertThat(states.status("m").etaSeconds()).isEqualTo(-1);
    clock.advance(Duration.ofSeconds(2));
    states.fetched("m", 200);
    ModelStatus status = states.status("m");
    assertThat(status.state()).isEqualTo(ModelState.FETCHING);
    assertThat(status.bytesDone()).isEqualTo(200);
    assertThat(status.bytesTotal()).isEqualTo(1000);
    assertThat(status.bytesPerSecond()).isEqualTo(100.0);
    assertThat(status.etaSeconds()).isEqualTo(8);
  }

  @Test
  void aStalledFetchShowsNoRateAndAnUnknownEta() {
    states.fetching("m", 1000);
    clock.advance(Duration.ofSeconds(2));
    states.fetched("m", 200);
    assertThat(states.status("m").bytesPerSecond()).isEqualTo(100.0);
    for (int second = 0; second < 11; second++) {
      clock.advance(Duration.ofSeconds(1));
      states.status("m");
    }
    ModelStatus stalled = states.status("m");
    assertThat(stalled.bytesPerSecond()).isZero();
    assertThat(stalled.etaSeconds()).isEqualTo(-1);

    // moving again: the rate is that of the last window, not the average since the start
    clock.advance(Duration.ofSeconds(1));
    states.fetched("m", 400);
    assertThat(states.status("m").bytesPerSecond()).isEqualTo(40.0);
  }

  @Test
  void rateLooksAtTheLastWindowEvenWhenRarelyAsked() {
    states.fetching("m", 10_000);
    clock.advance(Duration.ofSeconds(20));
    states.fetched("m", 2000);
    assertThat(states.status("m").bytesPerSecond()).isEqualTo(100.0);
    clock.advance(Duration.ofSeconds(30));
    states.fetched("m", 6000);
    assertThat(states.status("m").bytesPerSecond()).isEqualTo(200.0);
    assertThat(states.status("m").etaSeconds()).isEqualTo(10);
  }

  @Test
  void aNewFetchStartsFromZero() {
    states.fetching("m", 1000);
    clock.advance(Duration.ofSeconds(1));
    states.fetched("m", 1000);
    states.verifying("m");
    assertThat(states.status("m").bytesDone()).isZero();
    assertThat(states.status("m").bytesPerSecond()).isZero();
    states.fetching("m", 500);
    clock.advance(Duration.ofSeconds(1));
    states.fetched("m", 100);
    assertThat(states.status("m").bytesDone()).isEqualTo(100);
    assertThat(states.status("m").bytesPerSecond()).isEqualTo(100.0);
  }
}
