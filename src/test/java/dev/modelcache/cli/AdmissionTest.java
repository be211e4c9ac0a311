package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admission control with a tiny budget ({@code server.limits.memory_percent: 5}, {@code
 * body_expansion: 1000}): a body whose estimate exceeds the whole budget is a 413 that says so,
 * whether its size is declared or chunked, and the refusal is read by the client (the body is read
 * into nothing) and counted; small requests pass.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdmissionTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String SMALL = "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}";

  @TempDir static Path tmp;
  private Daemon daemon;

  @BeforeAll
  void start() throws Exception {
    String yaml =
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\n"
            + "  limits: {memory_percent: 5, body_expansion: 1000}\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src")));
    Config config = new ConfigLoader(Map.of(), tmp).parse(yaml, "test config", tmp);
    daemon = new Daemon(config, Clock.systemUTC()).start();
    daemon.prepared().get(60, TimeUnit.SECONDS);
  }

  @AfterAll
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  /** A body of about {@code bytes} of iris rows. */
  private static String body(int bytes) {
    StringBuilder body = new StringBuilder("{\"inputs\": [");
    while (body.length() < bytes) {
      body.append("[5.1, 3.4, 1.5, 0.2],");
    }
    return body.append("[5.1, 3.4, 1.5, 0.2]]}").toString();
  }

  /** Sends the body with Content-Length, or chunked; returns status line and body. */
  private String[] post(String body, boolean chunked) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", daemon.port())) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      byte[] bytes = body.getBytes(StandardCharsets.US_ASCII);
      String head =
          "POST /inference/iris HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              + (chunked
                  ? "Transfer-Encoding: chunked\r\n"
                  : "Content-Length: " + bytes.length + "\r\n")
              + "Connection: close\r\n\r\n";
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      if (chunked) {
        for (int from = 0; from < bytes.length; from += 8192) {
          int n = Math.min(8192, bytes.length - from);
          out.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(bytes, from, n);
          out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      } else {
        out.write(bytes);
      }
      out.flush();
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      socket.getInputStream().transferTo(answer);
      String text = answer.toString(StandardCharsets.UTF_8);
      String status = text.substring(0, text.indexOf("\r\n"));
      String payload = text.substring(text.indexOf("\r\n\r\n") + 4);
      if (text.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked")) {
        payload = payload.substring(payload.indexOf("\r\n") + 2, payload.lastIndexOf("\r\n0\r\n"));
      }
      return new String[] {status, payload};
    }
  }

  private static final Pattern TOO_LARGE =
      Pattern.compile(
          "iris - this request's body of (\\d+) bytes needs an estimated [0-9.]+ MiB of heap"
              + " \\(\\1 bytes x server.limits.body_expansion 1000\\), more than the whole budget"
              + " for requests in flight \\([0-9.]+ MiB: server.limits.memory_percent 5 % of the"
              + " [0-9.]+ MiB heap\\); send fewer inputs per request, or give the JVM more heap"
              + " \\(-Xmx, MODELCACHE_OPTS\\)");

  @Test
  void aBodyBeyondTheWholeBudgetIsA413DeclaredOrChunked() throws Exception {
    // 5 % of the test JVM's 2 GiB heap is about 100 MiB; 200 KB x 1000 is about 195 MiB
    String large = body(200_000);
    for (boolean chunked : new boolean[] {false, true}) {
      String[] answer = post(large, chunked);
      assertThat(answer[0]).as("chunked " + chunked).isEqualTo("HTTP/1.1 413 Payload Too Large");
      String error = MAPPER.readTree(answer[1]).path("error").asText();
      Matcher matcher = TOO_LARGE.matcher(error);
      assertThat(matcher.matches()).as(error).isTrue();
      assertThat(Long.parseLong(matcher.group(1))).isEqualTo(large.length());
    }
    String[] small = post(SMALL, false);
    assertThat(small[0]).isEqualTo("HTTP/1.1 200 OK");
    assertThat(post(SMALL, true)[0]).isEqualTo("HTTP/1.1 200 OK");
    String metrics =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + daemon.port() + "/metrics"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(metrics).contains("modelcache_inference_rejected_total{reason=\"too_large\"} 2.0");
  }
}
