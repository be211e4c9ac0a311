package dev.modelcache.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import java.lang.management.ManagementFactory;

/**
 * The JVM and process meters of Micrometer's binders, with the two changes that {@code promtool
 * check metrics} asks for: {@code process_cpu_time_ns_total} (an abbreviated unit) becomes the
 * conventional {@code process_cpu_seconds_total}, and the gauge {@code system_cpu_count} (a {@code
 * _count} suffix outside a summary) becomes {@code system_cpu_available_processors}.
 *
 * <pre>{@code
 * try (JvmMetrics jvm = new JvmMetrics()) {
 *   jvm.bindTo(registry); // before any other meter: it adds meter filters
 * }
 * }</pre>
 */
public final class JvmMetrics implements AutoCloseable {
  static final String PROCESS_CPU = "process.cpu";

  private final JvmGcMetrics gc = new JvmGcMetrics();

  public JvmMetrics bindTo(MeterRegistry registry) {
    registry
        .config()
        .meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")))
        .meterFilter(
            new MeterFilter() {
              @Override
              public Meter.Id map(Meter.Id id) {
                return id.getName().equals("system.cpu.count")
                    ? id.withName("system.cpu.available").withBaseUnit("processors")
                    : id;
              }
            });
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      FunctionCounter.builder(PROCESS_CPU, os, bean -> bean.getProcessCpuTime() / 1e9)
          .baseUnit("seconds")
          .description("CPU time used by the JVM process")
          .register(registry);
    }
    return this;
  }

  @Override
  public void close() {
    gc.close();
  }
}
