package dev.modelcache.inference;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Measures the memory a model takes as the process's growth across its load and warm-up: neither
 * DJL nor its engines report a model's memory on CPU (PyTorch has no such counter; OnnxRuntime's
 * Java API none per session), so the resident set ({@code VmRSS}) and the heap in use are read
 * before and after. Loads are measured one at a time (a process-wide lock, waited for at most
 * {@link #QUEUE_WAIT_SECONDS}), since the resident set is the whole process's; the engine is
 * initialised before the first reading, so that its libraries are not counted in its first model.
 *
 * <pre>{@code
 * try (LoadMeter.Window window = meter.open("PyTorch")) {
 *   ... load and warm up ...
 *   ModelMemory memory = window.measure(fileBytes);
 * }
 * }</pre>
 */
final class LoadMeter {
  /** How long a load waits for another's measurement before it runs beside it. */
  static final long QUEUE_WAIT_SECONDS = 60;

  // the resident set is the process's: one lock and one count for every registry in it
  private static final ReentrantLock LOADS = new ReentrantLock(true);
  private static final AtomicInteger MEASURING = new AtomicInteger();
  private static final AtomicLong STARTED = new AtomicLong();

  /** What the meter reads of the process; tests pass their own. */
  interface Probe {
    /** The resident set in bytes, or -1 where it cannot be read. */
    long residentBytes();

    /** The heap's usage now. */
    MemoryUsage heap();

    /** The JVM's memory outside the heap now: metaspace, code cache. */
    MemoryUsage nonHeap();
  }

  /** The process's {@code /proc/self/status} and {@link MemoryMXBean}. */
  static final Probe PROCESS =
      new Probe() {
        private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();

        @Override
        public long residentBytes() {
          return vmRss(Path.of("/proc/self/status"));
        }

        @Override
        public MemoryUsage heap() {
          return memory.getHeapMemoryUsage();
        }

        @Override
        public MemoryUsage nonHeap() {
          return memory.getNonHeapMemoryUsage();
        }
      };

  private final Probe probe;

  LoadMeter(Probe probe) {
    this.probe = probe;
  }

  /** The {@code VmRSS} line of a {@code /proc/<pid>/status} file in bytes, or -1. */
  static long vmRss(Path status) {
    try {
      for (String line : Files.readAllLines(status)) {
        if (line.startsWith("VmRSS:")) {
          String kib = line.substring("VmRSS:".length()).replace("kB", "").strip();
          return Long.parseLong(kib) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1; // not Linux, or no procfs: the heap alone is measured
    }
    return -1;
  }

  /**
   * Starts measuring one load on {@code engine} (initialised first, see the class comment): waits
   * for the measurement under way, if any, then takes the first reading.
   */
  Window open(String engine) {
    boolean locked;
    try {
      locked = LOADS.tryLock(QUEUE_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      locked = false;
    }
    try {
      ai.djl.engine.Engine.getEngine(engine);
    } catch (RuntimeException e) {
      // the load itself fails on it, with the model's name in the message
    }
    return new Window(locked);
  }

  /** One load's measurement; closing it lets the next load be measured. */
  final class Window implements AutoCloseable {
    private final boolean locked;
    private final long started;
    private final boolean others;
    private final long rss;
    private final MemoryUsage heap;
    private final MemoryUsage nonHeap;
    private boolean closed;

    private Window(boolean locked) {
      this.locked = locked;
      this.others = MEASURING.getAndIncrement() > 0;
      this.started = STARTED.incrementAndGet();
      this.rss = probe.residentBytes();
      this.heap = probe.heap();
      this.nonHeap = probe.nonHeap();
    }

    /** The growth since {@link #open}, for a model file of {@code fileBytes}. */
    ModelMemory measure(long fileBytes) {
      long rssNow = probe.residentBytes();
      MemoryUsage heapNow = probe.heap();
      long heapUsed = Math.max(0, heapNow.getUsed() - heap.getUsed());
      boolean overlapped = others || STARTED.get() != started;
      if (rss < 0 || rssNow < 0) {
        return new ModelMemory(0, heapUsed, fileBytes, "heap-delta-at-load", overlapped);
      }
      // the JVM's own growth is resident too: the heap committed, and the metaspace and code cache
      // of the classes the first load of an engine brings; what is left is the engine's
      long committed =
          Math.max(0, heapNow.getCommitted() - heap.getCommitted())
              + Math.max(0, probe.nonHeap().getCommitted() - nonHeap.getCommitted());
      long nativeBytes = Math.max(0, rssNow - rss - committed);
      return new ModelMemory(nativeBytes, heapUsed, fileBytes, "rss-delta-at-load", overlapped);
    }

    @Override
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      MEASURING.decrementAndGet();
      if (locked) {
        LOADS.unlock();
      }
    }
  }
}
