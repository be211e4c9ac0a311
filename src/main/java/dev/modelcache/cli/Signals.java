package dev.modelcache.cli;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * Handlers for SIGTERM and SIGINT in place of the JVM's own (which exits with 143 or 130 and
 * ignores a second signal while its shutdown hooks run). {@code sun.misc.Signal} is reached by
 * reflection: javac reports every direct use of it as internal API, which {@code -Werror} refuses,
 * though {@code jdk.unsupported} exports it for exactly this purpose.
 *
 * <pre>{@code
 * if (!Signals.handle("TERM", () -> beginShutdown())) {
 *   // no signal API: rely on a shutdown hook
 * }
 * }</pre>
 */
final class Signals {
  private Signals() {}

  /**
   * Runs {@code handler} on the JVM's signal thread each time signal {@code name} ("TERM", "INT",
   * "HUP") arrives; false when this JVM offers no way to do so, or when the signal was ignored as
   * the process started (under {@code nohup}, SIGHUP), which the JVM then keeps ignoring.
   */
  static boolean handle(String name, Runnable handler) {
    try {
      Class<?> signalType = Class.forName("sun.misc.Signal");
      Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
      Object signal = signalType.getConstructor(String.class).newInstance(name);
      Object proxy =
          Proxy.newProxyInstance(
              Signals.class.getClassLoader(),
              new Class<?>[] {handlerType},
              (self, method, args) -> {
                if (method.getName().equals("handle")) {
                  handler.run();
                  return null;
                }
                return switch (method.getName()) {
                  case "hashCode" -> System.identityHashCode(self);
                  case "equals" -> self == args[0];
                  default -> "SignalHandler[" + name + "]";
                };
              });
      Method handle = signalType.getMethod("handle", signalType, handlerType);
      Object previous = handle.invoke(null, signal, proxy);
      // a signal ignored when the JVM started (nohup ignores SIGHUP) stays ignored: HotSpot
      // answers SIG_IGN and installs nothing
      return previous != handlerType.getField("SIG_IGN").get(null);
    } catch (ReflectiveOperationException | IllegalArgumentException e) {
      return false;
    }
  }

  /** The exit status a process killed by {@code name} would have: 128 + its number. */
  static int killedStatus(String name) {
    return 128
        + switch (name) {
          case "INT" -> 2;
          case "TERM" -> 15;
          default -> throw new IllegalArgumentException("signal (" + name + ") is not handled");
        };
  }
}
