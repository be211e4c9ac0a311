package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.TestModels;
import dev.modelcache.config.Config;
import dev.modelcache.config.ConfigLoader;
import dev.modelcache.store.OpenSsl;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@code verification.require_signature}: {@code lock --sign} and openssl's signatures accepted; a
 * lockfile changed after signing, another key's signature, a missing signature and a model the
 * lockfile does not name refused by {@code fetch} and {@code serve}, naming the model and why.
 */
class SignedLockTest {
  private static final String REFUSED = "iris - refused (verification.require_signature): ";

  @TempDir Path tmp;
  private OpenSsl openssl;
  private Path lockfile;
  private Path sig;

  @BeforeEach
  void keys() throws Exception {
    OpenSsl.assumeInstalled();
    openssl = new OpenSsl(tmp);
    openssl.ecKey("ec");
    openssl.edKey("ed");
    openssl.ecKey("other");
    TestModels.copy("iris", tmp);
    TestModels.copy("colors", tmp);
    lockfile = tmp.resolve("modelcache.lock");
    sig = tmp.resolve("modelcache.lock.sig");
  }

  /** The config, trusting {@code keys} (file names in tmp), with iris and the extra models. */
  private Path config(String keys, String extraModels) throws Exception {
    return Files.writeString(
        tmp.resolve("modelcache.yaml"),
        "cache:\n  dir: cache\nserver:\n  host: 127.0.0.1\n  port: 0\n"
            + "verification:\n  public_keys: ["
            + keys
            + "]\n  require_signature: true\nmodels:\n"
            + "  - name: iris\n    source: file:iris\n    load: lazy\n"
            + extraModels);
  }

  private CliRun run(String... args) {
    List<String> all = new java.util.ArrayList<>(List.of(args));
    all.addAll(List.of("-c", tmp.resolve("modelcache.yaml").toString()));
    return CliRun.of(all.toArray(String[]::new));
  }

  @Test
  void lockSignSignsTheBytesWrittenAndFetchAcceptsThem() throws Exception {
    config("ec.pub", "");
    CliRun lock =
        run("lock", "--sign", tmp.resolve("ec.pem").toString()); // SEC1, as ecparam writes
    assertThat(lock.code()).as(lock.err()).isZero();
    assertThat(lock.out()).contains("signed modelcache.lock: " + sig);
    assertThat(
            openssl.run(
                "dgst",
                "-sha256",
                "-verify",
                "ec.pub",
                "-signature",
                sig.toString(),
                lockfile.toString()))
        .contains("Verified OK");

    CliRun fetch = run("fetch");
    assertThat(fetch.code()).as(fetch.err()).isZero();
    assertThat(fetch.out()).startsWith("ok iris: snapshot ");
  }

  @Test
  void refusesALockfileChangedAfterSigningAnotherKeyAMissingSignatureAndNoLockfile()
      throws Exception {
    config("ec.pub", "");
    assertThat(run("lock", "--sign", tmp.resolve("ec.pem").toString()).code()).isZero();
    String signed = Files.readString(lockfile);
    String id = openssl.keyId("ec");
    String invalid =
        "FAILED iris: "
            + REFUSED
            + sig
            + " is not a valid signature of modelcache.lock by any trusted key ["
            + "%s]: the lockfile changed after it was signed, or another key signed it";

    int digit = signed.indexOf("\"sha256\" : \"") + 12;
    char flipped = signed.charAt(digit) == '0' ? '1' : '0';
    Files.writeString(lockfile, signed.substring(0, digit) + flipped + signed.substring(digit + 1));
    CliRun tampered = run("fetch");
    assertThat(tampered.code()).isEqualTo(1);
    assertThat(tampered.err().strip()).isEqualTo(String.format(invalid, id));

    Files.writeString(lockfile, signed);
    config("other.pub", "");
    CliRun wrongKey = run("fetch");
    assertThat(wrongKey.code()).isEqualTo(1);
    assertThat(wrongKey.err().strip()).isEqualTo(String.format(invalid, openssl.keyId("other")));

    config("ec.pub", "");
    Files.delete(sig);
    CliRun unsigned = run("fetch");
    assertThat(unsigned.code()).isEqualTo(1);
    assertThat(unsigned.err().strip())
        .isEqualTo(
            "FAILED iris: "
                + REFUSED
                + sig
                + " is missing: modelcache.lock is not signed; sign it with 'modelcache lock"
                + " --sign KEY'");
    assertThat(unsigned.out()).doesNotContain("ok iris");

    Files.delete(lockfile);
    CliRun unlocked = run("fetch");
    assertThat(unlocked.code()).isEqualTo(1);
    assertThat(unlocked.err().strip())
        .isEqualTo(
            "FAILED iris: "
                + REFUSED
                + lockfile
                + " is missing; write and sign it with 'modelcache lock --sign KEY'");
  }

  @Test
  void lockSignRefusesAnEncryptedKeyBeforeFetchingWithoutQuotingIt() throws Exception {
    config("ec.pub", "");
    openssl.run("pkcs8", "-topk8", "-in", "ec.pem", "-out", "enc.pem", "-passout", "pass:hunter2");
    CliRun lock = run("lock", "--sign", tmp.resolve("enc.pem").toString());
    assertThat(lock.code()).isNotZero();
    assertThat(lock.err())
        .contains(tmp.resolve("enc.pem") + " is encrypted; modelcache takes no passphrase")
        .doesNotContain(Files.readString(tmp.resolve("enc.pem")).lines().skip(1).findFirst().get());
    assertThat(lockfile).doesNotExist();
    assertThat(tmp.resolve("cache")).doesNotExist();
  }

  @Test
  void refusesAModelTheSignedLockfileDoesNotName() throws Exception {
    config("ec.pub", "");
    assertThat(run("lock", "--sign", tmp.resolve("ec.pem").toString()).code()).isZero();
    config("ec.pub", "  - name: colors\n    source: file:colors\n    load: lazy\n");
    CliRun fetch = run("fetch");
    assertThat(fetch.code()).isEqualTo(1);
    assertThat(fetch.out()).startsWith("ok iris: ");
    assertThat(fetch.err().strip())
        .isEqualTo(
            "FAILED colors: colors - refused (verification.require_signature): the signed"
                + " modelcache.lock does not name it; lock and sign it with 'modelcache lock --sign"
                + " KEY'");
  }

  @Test
  void serveShowsTheSigningKeyAndFailsAnUnsignedModel() throws Exception {
    config("ec.pub, ed.pub", "");
    List<String> logged;
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    root.addAppender(appender);
    CliRun lock;
    JsonNode served;
    JsonNode unsigned;
    try {
      lock = run("lock");
      openssl.run(
          "pkeyutl",
          "-sign",
          "-inkey",
          "ed.pem",
          "-rawin",
          "-in",
          lockfile.toString(),
          "-out",
          sig.toString());
      served = models();
      Files.delete(sig);
      unsigned = models();
      run("lock", "--sign", tmp.resolve("ed.pem").toString());
    } finally {
      root.detachAppender(appender);
      logged = appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
    assertThat(lock.code()).as(lock.err()).isZero();
    assertThat(served.get("state").asText()).isEqualTo("READY");
    assertThat(served.get("signed_by").toString())
        .isEqualTo("{\"key_id\":\"" + openssl.keyId("ed") + "\",\"algorithm\":\"ed25519\"}");
    assertThat(unsigned.get("state").asText()).isEqualTo("FAILED");
    assertThat(unsigned.get("reason").asText())
        .isEqualTo(
            REFUSED
                + sig
                + " is missing: modelcache.lock is not signed; sign it with 'modelcache lock"
                + " --sign KEY'");
    assertThat(unsigned.has("signed_by")).isFalse();
    assertThat(logged)
        .contains(
            lockfile
                + " - signed by key "
                + openssl.keyId("ed")
                + " (ed25519, "
                + tmp.resolve("ed.pub")
                + ")");
    for (String key : List.of("ec.pem", "ed.pem")) {
      for (String line : Files.readString(tmp.resolve(key)).lines().toList()) {
        if (!line.startsWith("-----")) {
          assertThat(String.join("\n", logged)).doesNotContain(line);
        }
      }
    }
  }

  /** {@code /models/iris} of a daemon started on the config, once every model is prepared. */
  private JsonNode models() throws Exception {
    Config config = new ConfigLoader(Map.of(), tmp).load(tmp.resolve("modelcache.yaml"));
    try (Daemon daemon = new Daemon(config, Clock.systemUTC())) {
      daemon.start().prepared().get(60, TimeUnit.SECONDS);
      HttpResponse<String> answer =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + daemon.port() + "/models/iris"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      assertThat(answer.statusCode()).isEqualTo(200);
      return new ObjectMapper().readTree(answer.body());
    }
  }
}
