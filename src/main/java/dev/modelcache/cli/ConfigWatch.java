package dev.modelcache.cli;

import dev.modelcache.threads.NamedThreads;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the config file's folder ({@code server.reload.watch}) and asks for a reload once the
 * config file or {@code modelcache.lock} has stayed unchanged for the debounce time after a change
 * (an editor writes a file in several steps; a {@code ConfigMap} update swaps a symlink).
 */
final class ConfigWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Reloader.class);

  private final WatchService watcher;
  private final Set<Path> names;
  private final Duration debounce;
  private final Consumer<String> reload;
  private final Thread thread;

  /**
   * @param files the files whose change reloads (in one folder: the config and its lockfile)
   * @param reload asked with the name of the file that changed
   */
  ConfigWatch(Path folder, Set<Path> files, Duration debounce, Consumer<String> reload)
      throws IOException {
    this.watcher = FileSystems.getDefault().newWatchService();
    this.names = files.stream().map(Path::getFileName).collect(java.util.stream.Collectors.toSet());
    this.debounce = debounce;
    this.reload = reload;
    folder.register(
        watcher,
        StandardWatchEventKinds.ENTRY_CREATE,
        StandardWatchEventKinds.ENTRY_MODIFY,
        StandardWatchEventKinds.ENTRY_DELETE);
    this.thread = NamedThreads.named("modelcache-config-watch").start(this::watch);
    log.info("watching {} for changes of {} (server.reload.watch)", folder, names);
  }

  private void watch() {
    try {
      while (true) {
        @Nullable String changed = changed(watcher.take());
        // debounce: wait until nothing changes for the debounce time
        WatchKey more;
        while ((more = watcher.poll(debounce.toMillis(), TimeUnit.MILLISECONDS)) != null) {
          String also = changed(more);
          changed = changed == null ? also : changed;
        }
        if (changed != null) {
          reload.accept("change of " + changed);
        }
      }
    } catch (InterruptedException | ClosedWatchServiceException e) {
      // closing
    }
  }

  /** The watched file among {@code key}'s events, or null; resets the key. */
  private @Nullable String changed(WatchKey key) {
    String changed = null;
    for (WatchEvent<?> event : key.pollEvents()) {
      // "..data" is the symlink a Kubernetes ConfigMap swaps on each update
      if (event.context() instanceof Path name
          && (names.contains(name) || name.toString().equals("..data"))) {
        changed = name.toString();
      }
    }
    key.reset();
    return changed;
  }

  @Override
  public void close() {
    try {
      watcher.close();
    } catch (IOException e) {
      log.warn("closing the config watch failed: {}", e.toString());
    }
    thread.interrupt();
  }
}
