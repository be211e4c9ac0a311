package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.SourceRef;
import dev.modelcache.inference.ModelState;
import dev.modelcache.source.FileSource;
import dev.modelcache.source.S3Source;
import dev.modelcache.source.s3.S3Server;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/** The daemon owns what it builds: on shutdown its sources close their clients. */
class DaemonLifecycleTest {
  @TempDir Path tmp;

  @Test
  void shutdownClosesTheSourcesAndTheirS3Clients() throws Exception {
    try (S3Server s3 = S3Server.start()) {
      s3.bucket("models");
      s3.put("models", "m/model.pt", "weights".getBytes(StandardCharsets.UTF_8), false);
      String yaml =
          "cache:\n  dir: "
              + tmp.resolve("cache")
              + "\nsources:\n  s3:\n    endpoint: "
              + s3.endpoint()
              + "\n    path_style: true\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
              + "  - name: m\n    source: s3://models/m\n    load: lazy\n";
      Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
      List<String> clients = Collections.synchronizedList(new ArrayList<>());
      Sources sources =
          new Sources(
              Map.of(
                  SourceRef.Scheme.FILE, new FileSource(),
                  SourceRef.Scheme.S3, new S3Source(c -> observed(S3Source.client(c), clients))));

      try (Daemon daemon = Daemon.withSources(config, Clock.systemUTC(), sources).start()) {
        daemon.prepared().get(60, TimeUnit.SECONDS);
        assertThat(daemon.states().status("m").state())
            .as(daemon.states().status("m").toString())
            .isEqualTo(ModelState.READY);
        assertThat(clients).containsExactly("built");

        daemon.shutdown();
        assertThat(clients).containsExactly("built", "closed");
      }
      assertThat(clients).as("closed once").containsExactly("built", "closed");
    }
  }

  /** {@code client}, recording in {@code events} that it was built and when it is closed. */
  private static S3Client observed(S3Client client, List<String> events) {
    events.add("built");
    return (S3Client)
        Proxy.newProxyInstance(
            S3Client.class.getClassLoader(),
            new Class<?>[] {S3Client.class},
            (proxy, method, args) -> {
              if (method.getName().equals("close") && method.getParameterCount() == 0) {
                events.add("closed");
              }
              try {
                return method.invoke(client, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }
}
