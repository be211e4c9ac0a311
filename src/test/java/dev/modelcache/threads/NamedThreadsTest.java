package dev.modelcache.threads;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.LogCapture;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class NamedThreadsTest {
  private static final Logger log = LoggerFactory.getLogger(NamedThreadsTest.class);

  @Test
  void namesDaemonThreadsAfterWhatTheyDo() {
    NamedThreads numbered = NamedThreads.numbered("modelcache-test");
    Thread first = numbered.newThread(() -> {});
    Thread second = numbered.newThread(() -> {});
    assertThat(first.getName()).isEqualTo("modelcache-test-1");
    assertThat(second.getName()).isEqualTo("modelcache-test-2");
    assertThat(first.isDaemon()).isTrue();
    assertThat(NamedThreads.numbered("modelcache-m-worker", 0).newThread(() -> {}).getName())
        .isEqualTo("modelcache-m-worker-0");
    assertThat(NamedThreads.named("modelcache-progress").newThread(() -> {}).getName())
        .isEqualTo("modelcache-progress");
  }

  @Test
  void aPoolThatStopsInTimeIsQuiet() throws Exception {
    NamedThreads threads = NamedThreads.numbered("modelcache-test");
    ExecutorService pool = Executors.newFixedThreadPool(2, threads);
    CountDownLatch started = new CountDownLatch(1);
    pool.submit(
        () -> {
          started.countDown();
          new CountDownLatch(1).await(); // runs until interrupted by the stop
          return null;
        });
    started.await();
    try (LogCapture capture = new LogCapture(NamedThreadsTest.class)) {
      assertThat(threads.stop(pool, Duration.ofSeconds(30), log)).isTrue();
      assertThat(capture.lines()).isEmpty();
    }
    // its threads may still be alive for a moment: the pool ends as the last one leaves its loop
    assertThat(pool.isTerminated()).isTrue();
  }

  @Test
  void aPoolThatDoesNotStopInTimeIsLoggedNamingWhatStillRuns() throws Exception {
    NamedThreads threads = NamedThreads.numbered("modelcache-test");
    ExecutorService pool = Executors.newFixedThreadPool(2, threads);
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    pool.execute(
        () -> {
          started.countDown();
          ignoringInterrupts(release);
        });
    started.await();
    try (LogCapture capture = new LogCapture(NamedThreadsTest.class)) {
      assertThat(threads.stop(pool, Duration.ofMillis(50), log)).isFalse();
      assertThat(capture.lines())
          .singleElement()
          .asString()
          .matches(
              "WARN modelcache-test - 1 thread\\(s\\) still running 50 ms after the pool was"
                  + " stopped: modelcache-test-1 at dev\\.modelcache\\.threads\\.NamedThreadsTest"
                  + "\\.ignoringInterrupts\\(NamedThreadsTest\\.java:\\d+\\)");
    } finally {
      release.countDown();
    }
    assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
  }

  /** Waits for {@code release} whatever happens, as a call stuck in native code would. */
  private static void ignoringInterrupts(CountDownLatch release) {
    boolean interrupted = false;
    while (true) {
      try {
        release.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
