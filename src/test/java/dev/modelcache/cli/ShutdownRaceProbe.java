package dev.modelcache.cli;

import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Experiment: what answers do requests get around an in-process shutdown under load. */
class ShutdownRaceProbe {
  @TempDir Path tmp;

  @Test
  void probe() throws Exception {
    for (int round = 0; round < 6; round++) {
      Path dir = tmp.resolve("r" + round);
      String yaml =
          "cache:\n  dir: "
              + dir.resolve("cache")
              + "\nserver:\n  host: 127.0.0.1\n  port: 0\n  shutdown_grace_seconds: 20\nmodels:\n"
              + TestModels.modelYaml("iris", TestModels.copy("iris", dir.resolve("src")));
      Config config = new ConfigLoader(Map.of(), dir).parse(yaml, "t", dir);
      Daemon daemon = new Daemon(config, Clock.systemUTC()).start();
      daemon.prepared().get(120, TimeUnit.SECONDS);
      String base = "http://127.0.0.1:" + daemon.port();
      OkHttpClient http = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
      ExecutorService pool = Executors.newFixedThreadPool(8);
      List<String> odd = Collections.synchronizedList(new ArrayList<>());
      CountDownLatch some = new CountDownLatch(30);
      List<Future<?>> fs = new ArrayList<>();
      for (int c = 0; c < 6; c++) {
        fs.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 200; i++) {
                    Request r =
                        new Request.Builder()
                            .url(base + "/inference/iris")
                            .post(
                                RequestBody.create(
                                    "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}",
                                    MediaType.get("application/json")))
                            .build();
                    try (Response resp = http.newCall(r).execute()) {
                      String body = resp.body().string();
                      some.countDown();
                      if (resp.code() != 200) {
                        odd.add(resp.code() + " " + body);
                      }
                    } catch (IOException e) {
                      odd.add("IO " + e);
                      if (e instanceof java.net.ConnectException) {
                        return null;
                      }
                    }
                  }
                  return null;
                }));
      }
      some.await(30, TimeUnit.SECONDS);
      daemon.shutdown();
      for (Future<?> f : fs) {
        f.get(60, TimeUnit.SECONDS);
      }
      pool.shutdownNow();
      System.out.println("ROUND " + round + ": " + odd);
    }
  }
}
