package dev.modelcache.threads;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;

/**
 * The one thread factory of modelcache: daemon threads named after what they do ({@code
 * modelcache-download-3}, {@code modelcache-progress}), remembered while they live so that a pool
 * that does not stop in time can say which of its threads still run, and where.
 *
 * <pre>{@code
 * NamedThreads threads = NamedThreads.numbered("modelcache-download");
 * ExecutorService pool = Executors.newFixedThreadPool(4, threads);
 * ...
 * threads.stop(pool, NamedThreads.STOP_WAIT, log); // WARN naming what still runs after 10 s
 * }</pre>
 */
public final class NamedThreads implements ThreadFactory {
  /** How long an owner waits for its pool's threads to end when it closes. */
  public static final Duration STOP_WAIT = Duration.ofSeconds(10);

  private static final String OWN_CODE = "dev.modelcache.";

  private final String name;
  private final boolean numbered;
  private final AtomicInteger next;
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();

  private NamedThreads(String name, boolean numbered, int first) {
    this.name = name;
    this.numbered = numbered;
    this.next = new AtomicInteger(first);
  }

  /** Threads named {@code prefix-1}, {@code prefix-2}, ... */
  public static NamedThreads numbered(String prefix) {
    return numbered(prefix, 1);
  }

  /** Threads named {@code prefix-first}, {@code prefix-(first+1)}, ... */
  public static NamedThreads numbered(String prefix, int first) {
    return new NamedThreads(prefix, true, first);
  }

  /** Threads all named {@code name} (a pool of one, or one thread at a time). */
  public static NamedThreads named(String name) {
    return new NamedThreads(name, false, 0);
  }

  /** The name of these threads (the prefix of numbered ones). */
  public String name() {
    return name;
  }

  /** A daemon thread, not started: the process never waits for it to exit. */
  @Override
  public Thread newThread(Runnable task) {
    threads.removeIf(thread -> thread.getState() == Thread.State.TERMINATED);
    Thread thread = new Thread(task, numbered ? name + "-" + next.getAndIncrement() : name);
    thread.setDaemon(true);
    threads.add(thread);
    return thread;
  }

  /** Starts {@code task} on a new thread of these. */
  public Thread start(Runnable task) {
    Thread thread = newThread(task);
    thread.start();
    return thread;
  }

  /**
   * Each of these threads still alive, with where it is: the innermost frame of modelcache's own
   * code (else the innermost frame), e.g. {@code modelcache-download-2 at
   * dev.modelcache.fetch.Transfer.run(Transfer.java:68)}.
   */
  public List<String> running() {
    List<String> running = new ArrayList<>();
    for (Thread thread : threads) {
      if (thread.isAlive()) {
        running.add(thread.getName() + where(thread.getStackTrace()));
      }
    }
    running.sort(null);
    return running;
  }

  private static String where(StackTraceElement[] stack) {
    for (StackTraceElement frame : stack) {
      if (frame.getClassName().startsWith(OWN_CODE)) {
        return " at " + frame(frame);
      }
    }
    return stack.length == 0 ? "" : " at " + frame(stack[0]);
  }

  /** {@code class.method(File.java:line)}, without the class loader and module of its toString. */
  private static String frame(StackTraceElement frame) {
    return frame.getClassName()
        + "."
        + frame.getMethodName()
        + "("
        + (frame.getFileName() == null ? "unknown source" : frame.getFileName())
        + (frame.getLineNumber() < 0 ? "" : ":" + frame.getLineNumber())
        + ")";
  }

  /**
   * Stops {@code pool} (made with these threads): interrupts what runs, drops what waits, and waits
   * up to {@code wait} for its threads to end; when they do not, {@code log} says at WARN which
   * still run and where. Restores the interrupt flag when interrupted while waiting.
   *
   * @return true when the pool ended within {@code wait}
   */
  public boolean stop(ExecutorService pool, Duration wait, Logger log) {
    pool.shutdownNow();
    try {
      if (pool.awaitTermination(wait.toNanos(), TimeUnit.NANOSECONDS)) {
        return true;
      }
      List<String> running = running();
      log.warn(
          "{} - {} thread(s) still running {} ms after the pool was stopped: {}",
          name,
          running.size(),
          wait.toMillis(),
          running.isEmpty() ? "(none left: they ended just now)" : String.join("; ", running));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return false;
  }
}
