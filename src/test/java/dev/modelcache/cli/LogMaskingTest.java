package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The second line of defence of {@code logback.xml}: whatever logger prints a credential header (a
 * library logger not capped yet, an exception message), its value is masked, in both log formats,
 * in the message and in the stack trace. A child JVM logs through the shipped config.
 */
class LogMaskingTest {
  private static final String SESSION = "FwoGZXIvYXdzEJr-session-9f8e7d";
  private static final String API = "api-7c5b3a1f9e";
  private static final String KEY_ID = "AKIAEXAMPLE12345";
  private static final String SIGNATURE = "0123456789abcdef0123456789abcdef";

  /** Run in the child: logs the credentials as a careless library would. */
  public static final class Emit {
    private Emit() {}

    public static void main(String[] args) {
      var log = LoggerFactory.getLogger("some.library.Wire");
      log.warn(
          "request headers: Authorization: Bearer {}\nx-amz-security-token:{}\nAuthorization:"
              + " AWS4-HMAC-SHA256 Credential={}/20261126/us-east-1/s3/aws4_request,"
              + " SignedHeaders=host, Signature={}",
          API,
          SESSION,
          KEY_ID,
          SIGNATURE);
      log.error("call failed", new IllegalStateException("authorization=" + API));
      log.info("inference requires the bearer token from MODELCACHE_TOKEN");
    }
  }

  private static String run(String format) throws IOException, InterruptedException {
    ProcessBuilder builder =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp",
            System.getProperty("java.class.path"),
            Emit.class.getName());
    builder.environment().put("LOG_FORMAT", format);
    builder.redirectErrorStream(true);
    Process process = builder.start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  @Test
  void credentialHeaderValuesAreMaskedInBothFormats() throws Exception {
    for (String format : List.of("json", "text")) {
      String out = run(format);
      assertThat(out)
          .as(format)
          .contains("x-amz-security-token:****")
          .contains("Credential=****")
          .contains("Signature=****")
          .contains("authorization=****")
          .contains("Authorization: **** ****") // the scheme is masked too
          .contains("inference requires the bearer token from MODELCACHE_TOKEN")
          .doesNotContain(SESSION)
          .doesNotContain(API)
          .doesNotContain(KEY_ID)
          .doesNotContain(SIGNATURE);
    }
  }
}
