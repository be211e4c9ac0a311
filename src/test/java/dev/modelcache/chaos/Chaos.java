package dev.modelcache.chaos;

/**
 * The chaos suite's one knob. Every chaos test is tagged {@code @Tag("chaos")} and sizes its loop
 * with {@link #rounds}: {@code mvn verify} runs the bounded count, {@code -Dmodelcache.chaos=long}
 * (see {@code bench/chaos.sh}) the on-demand one. Figures a chaos test measures are printed as one
 * line each, {@code CHAOS <name>: <value>}, so that {@code docs/reliability.md} can be rebuilt from
 * one run's surefire output.
 */
public final class Chaos {
  /** The tag every chaos test carries. */
  public static final String TAG = "chaos";

  private Chaos() {}

  /** True when the on-demand long run was asked for. */
  public static boolean longRun() {
    return "long".equals(System.getProperty("modelcache.chaos"));
  }

  /** {@code bounded} under {@code mvn verify}, {@code onDemand} in the long run. */
  public static int rounds(int bounded, int onDemand) {
    return longRun() ? onDemand : bounded;
  }

  /** Prints one measured figure as {@code CHAOS name: value} on stdout. */
  public static void report(String name, Object value) {
    System.out.println("CHAOS " + name + ": " + value);
  }
}
