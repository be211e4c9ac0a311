package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.FakeClock;
import dev.modelcache.LogCapture;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import dev.modelcache.metrics.WatchMeters;
import dev.modelcache.source.ModelSource;
import dev.modelcache.source.Snapshot;
import dev.modelcache.source.SourceFile;
import dev.modelcache.store.Lockfile;
import dev.modelcache.store.SignedLock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The upstream watch's polls, jitter and backoff, with a fake source, clock and random. */
class UpstreamWatchTest {
  private static final String A = "a".repeat(40);
  private static final String B = "b".repeat(40);

  @TempDir Path dir;
  private final FakeClock clock = new FakeClock();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<String> moved = new ArrayList<>();
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();
  private Config config;
  private SignedLock signed;
  private volatile String upstream = A;
  private volatile IOException failure;
  private int polls;

  @BeforeEach
  void configure() throws IOException {
    config =
        new ConfigLoader(Map.of(), dir)
            .parse(
                "models:\n  - name: iris\n    source: hf://org/iris\n    watch: {interval: 10s}\n",
                "test.yaml",
                dir);
    signed = SignedLock.read(dir.resolve("modelcache.lock"), config.verification());
  }

  @AfterEach
  void stop() {
    executor.shutdownNow();
  }

  private UpstreamWatch watch() {
    ModelSource source =
        new ModelSource() {
          @Override
          public Snapshot resolve(ModelConfig model) {
            throw new UnsupportedOperationException();
          }

          @Override
          public String upstreamRevision(ModelConfig model) throws IOException {
            polls++;
            if (failure != null) {
              throw failure;
            }
            return upstream;
          }

          @Override
          public InputStream open(
              ModelConfig model, Snapshot snapshot, SourceFile file, long offset, long end) {
            throw new UnsupportedOperationException();
          }

          @Override
          public void close() {}
        };
    UpstreamWatch.Target target =
        new UpstreamWatch.Target() {
          @Override
          public Config config() {
            return config;
          }

          @Override
          public SignedLock signed() {
            return signed;
          }

          @Override
          public Optional<String> serving(String model) {
            return Optional.of(A);
          }

          @Override
          public void moved(ModelConfig model) {
            moved.add(model.name());
          }
        };
    UpstreamWatch watch =
        new UpstreamWatch(
            Map.of(SourceRef.Scheme.HF, source),
            target,
            new WatchMeters(registry),
            clock,
            () -> 0.5,
            executor);
    watch.refresh();
    return watch;
  }

  private double count(String outcome) {
    return registry
        .get(WatchMeters.POLLS)
        .tags("model", "iris", "outcome", outcome)
        .counter()
        .count();
  }

  @Test
  void jitterIsWithinTenPercentOfTheInterval() {
    Duration ten = Duration.ofSeconds(10);
    assertThat(UpstreamWatch.jittered(ten, 0)).isEqualTo(Duration.ofSeconds(9));
    assertThat(UpstreamWatch.jittered(ten, 0.5)).isEqualTo(ten);
    assertThat(UpstreamWatch.jittered(ten, 0.9999)).isBetween(ten, Duration.ofSeconds(11));
  }

  @Test
  void backoffDoublesTheIntervalUpToAnHour() {
    Duration second = Duration.ofSeconds(1);
    assertThat(UpstreamWatch.backoff(second, 1, 0.5)).isEqualTo(Duration.ofSeconds(2));
    assertThat(UpstreamWatch.backoff(second, 2, 0.5)).isEqualTo(Duration.ofSeconds(4));
    assertThat(UpstreamWatch.backoff(second, 5, 0.5)).isEqualTo(Duration.ofSeconds(32));
    assertThat(UpstreamWatch.backoff(second, 40, 0.5)).isEqualTo(Duration.ofHours(1));
    assertThat(UpstreamWatch.backoff(Duration.ofHours(2), 3, 0.5)).isEqualTo(Duration.ofHours(2));
    assertThat(UpstreamWatch.backoff(Duration.ofMinutes(10), 1, 0))
        .isEqualTo(Duration.ofMinutes(18));
  }

  @Test
  void aMovedBranchAsksForOneUpdate() {
    UpstreamWatch watch = watch();
    assertThat(watch.watching("iris")).isTrue();
    try (LogCapture log = new LogCapture(UpstreamWatch.class)) {
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(10));
      assertThat(moved).isEmpty();
      upstream = B;
      clock.advance(Duration.ofSeconds(10));
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(10));
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(10));
      assertThat(moved).containsExactly("iris");
      assertThat(log.lines())
          .contains("INFO iris - hf://org/iris moved " + A + " -> " + B + "; updating");
    }
    assertThat(count("unchanged")).isEqualTo(2);
    assertThat(count("moved")).isEqualTo(1);
    assertThat(registry.get(WatchMeters.LAST_CHANGE).tags("model", "iris").gauge().value())
        .isEqualTo(clock.instant().getEpochSecond());
  }

  @Test
  void failedPollsBackOffWarnOnceAndKeepWatching() {
    UpstreamWatch watch = watch();
    failure = new IOException("iris - the Hub answered 503");
    try (LogCapture log = new LogCapture(UpstreamWatch.class)) {
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(20));
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(40));
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(80));
      failure = null;
      upstream = B;
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(10));
      assertThat(log.lines().stream().filter(l -> l.startsWith("WARN")))
          .containsExactly(
              "WARN iris - cannot poll hf://org/iris (iris - the Hub answered 503); the served"
                  + " revision stays; polling again with a growing pause (next in 20 s)");
      assertThat(log.lines())
          .contains("INFO iris - hf://org/iris answers again after 3 failed poll(s)");
    }
    assertThat(count("failed")).isEqualTo(3);
    assertThat(moved).containsExactly("iris");
  }

  @Test
  void aModelThatTheLockfileHoldsIsNotPolled() throws IOException {
    Lockfile.empty()
        .with(
            "iris",
            new Lockfile.Locked(
                "hf://org/iris",
                A,
                List.of(new Lockfile.LockedFile("model.pt", 3, "c".repeat(64)))))
        .write(dir.resolve("modelcache.lock"));
    signed = SignedLock.read(dir.resolve("modelcache.lock"), config.verification());
    UpstreamWatch watch = watch();
    upstream = B;
    try (LogCapture log = new LogCapture(UpstreamWatch.class)) {
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(10));
      assertThat(watch.poll("iris")).isEqualTo(Duration.ofSeconds(10));
      assertThat(log.lines())
          .containsExactly(
              "INFO iris - not watching hf://org/iris: modelcache.lock holds it (the lockfile is"
                  + " the authority: run 'modelcache lock' to move it)");
    }
    assertThat(polls).isZero();
    assertThat(moved).isEmpty();
    assertThat(count("held")).isEqualTo(2);
  }
}
