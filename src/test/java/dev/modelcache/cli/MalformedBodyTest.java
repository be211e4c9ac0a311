package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.modelcache.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request bodies broken on the wire (a chunk size that is not hex, a body shorter than its {@code
 * Content-Length}) are the client's fault: a 400 or a closed connection, never a 500, and no ERROR
 * line blaming the server. Raw sockets, since no HTTP client sends such bodies.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MalformedBodyTest {
  private static final String IRIS = "{\"inputs\": [5.1, 3.4, 1.5, 0.2]}";

  @TempDir static Path tmp;
  private ChildDaemon child;
  private int port;

  @BeforeAll
  void start() throws Exception {
    Path config = tmp.resolve("modelcache.yaml");
    Files.writeString(
        config,
        "cache:\n  dir: "
            + tmp.resolve("cache")
            + "\nserver:\n  host: 127.0.0.1\n  port: 0\nmodels:\n"
            + TestModels.modelYaml("iris", TestModels.copy("iris", tmp.resolve("src"))));
    child = ChildDaemon.start(config, Map.of());
    port = child.awaitReady(Duration.ofSeconds(60));
  }

  @AfterAll
  void stop() {
    if (child != null) {
      child.close();
    }
  }

  @Test
  void aChunkSizeThatIsNotHexIsA400() throws Exception {
    String answer =
        exchange(
            "POST /inference/iris HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "zz\r\n"
                + IRIS
                + "\r\n0\r\n\r\n",
            false);
    assertClientError(answer);
    stillServes();
  }

  @Test
  void aChunkedBodyCutShortIsNotA500() throws Exception {
    String answer =
        exchange(
            "POST /inference/iris HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "100\r\n{\"inputs\": [5.1,",
            true);
    assertClientError(answer);
    stillServes();
  }

  @Test
  void aBodyShorterThanItsContentLengthIsNotA500() throws Exception {
    String answer =
        exchange(
            "POST /inference/iris HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: 4096\r\nConnection: close\r\n\r\n"
                + IRIS,
            true);
    assertClientError(answer);
    stillServes();
  }

  /** A 400 with a JSON error, or no answer at all (the connection closed): never a 5xx. */
  private void assertClientError(String answer) throws Exception {
    if (!answer.isEmpty()) {
      assertThat(answer).startsWith("HTTP/1.1 400 ");
      String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
      assertThat(ChildDaemon.parse(body).path("error").asText())
          .startsWith(
              "request body could not be read: the connection ended or the chunked encoding broke"
                  + " before the body was complete (")
          .endsWith(
              "); send the whole body, as many bytes as Content-Length says or in valid chunks");
    }
    // the access line of the broken request comes after its handling: wait for the one of a
    // good request sent afterwards, then nothing may be an ERROR or a 500
    stillServes();
    child.awaitMessage(m -> m.startsWith("POST /inference/iris - 200"), Duration.ofSeconds(10));
    List<String> lines = child.lines();
    for (String line : lines) {
      JsonNode event = ChildDaemon.parse(line);
      assertThat(event).as(line).isNotNull();
      assertThat(event.path("level").asText()).as(line).isNotEqualTo("ERROR");
      assertThat(event.path("message").asText()).as(line).doesNotContain(" - 500 in ");
    }
  }

  private void stillServes() throws IOException {
    String answer =
        exchange(
            "POST /inference/iris HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: "
                + IRIS.length()
                + "\r\nConnection: close\r\n\r\n"
                + IRIS,
            false);
    assertThat(answer).startsWith("HTTP/1.1 200 ");
  }

  /**
   * Sends {@code request} as it is; with {@code halfClose} the client then shuts its output (a body
   * cut short). Returns what the server answered before closing, "" for nothing.
   */
  private String exchange(String request, boolean halfClose) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      if (halfClose) {
        socket.shutdownOutput();
      }
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      try {
        socket.getInputStream().transferTo(answer);
      } catch (SocketException e) {
        // reset by the server after it gave up on the body: what was read stays
      }
      return answer.toString(StandardCharsets.UTF_8);
    }
  }
}
