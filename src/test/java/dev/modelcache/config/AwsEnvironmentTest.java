package dev.modelcache.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.modelcache.config.Config.S3Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The S3 client's endpoint and region as the AWS CLI resolves them, with the config's keys first:
 * docs/configuration.md's precedence table, row by row, through an injected environment.
 */
class AwsEnvironmentTest {
  private static final String MODEL = "models:\n  - name: m\n    source: s3://bucket/m\n";

  @TempDir Path dir;
  private Path awsConfig;

  @BeforeEach
  void writeProfiles() throws Exception {
    Files.createDirectories(dir.resolve("home/.aws"));
    Files.writeString(
        dir.resolve("home/.aws/config"),
        "[default]\nregion = ap-south-1\n\n[profile home-only]\nregion = sa-east-1\n");
    awsConfig = dir.resolve("aws-config");
    Files.writeString(
        awsConfig,
        "[default]\nregion = eu-central-1\n\n"
            + "[profile dev]\nregion = eu-west-3\nendpoint_url = http://profile:9000\n\n"
            + "[profile noregion]\noutput = json\n\n"
            + "[profile ignoring]\nignore_configured_endpoint_urls = true\n");
  }

  private S3Config s3(String yaml, Map<String, String> env) {
    return new ConfigLoader(env, dir).parse(yaml, "test.yaml", dir).models().get(0).s3();
  }

  private static Map<String, String> env(String... pairs) {
    Map<String, String> env = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      env.put(pairs[i], pairs[i + 1]);
    }
    return env;
  }

  @Test
  void theEndpointIsTheKeyThenTheServiceVariableThenTheGenericOne() {
    Map<String, String> both =
        env("AWS_ENDPOINT_URL_S3", "http://s3-only:9000", "AWS_ENDPOINT_URL", "http://all:9000");
    assertThat(s3("sources:\n  s3:\n    endpoint: http://sources:9000\n" + MODEL, both).endpoint())
        .isEqualTo("http://sources:9000");
    assertThat(
            s3(
                    "models:\n  - name: m\n    source: s3://bucket/m\n"
                        + "    s3: {endpoint: 'http://model:9000'}\n",
                    both)
                .endpoint())
        .isEqualTo("http://model:9000");
    assertThat(s3(MODEL, both).endpoint()).isEqualTo("http://s3-only:9000");
    assertThat(s3(MODEL, env("AWS_ENDPOINT_URL", "http://all:9000")).endpoint())
        .isEqualTo("http://all:9000");
    assertThat(s3(MODEL, env("AWS_ENDPOINT_URL_S3", " ", "AWS_ENDPOINT_URL", "http://all:9000")))
        .as("an empty variable does not count")
        .extracting(S3Config::endpoint)
        .isEqualTo("http://all:9000");
  }

  @Test
  void ignoreConfiguredEndpointUrlsTurnsTheVariablesOffButNotTheKeys() {
    Map<String, String> ignored =
        env(
            "AWS_ENDPOINT_URL_S3",
            "http://s3-only:9000",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "true");
    assertThat(s3(MODEL, ignored).endpoint()).isNull();
    Map<String, String> byProfile =
        env(
            "AWS_ENDPOINT_URL",
            "http://all:9000",
            "AWS_CONFIG_FILE",
            awsConfig.toString(),
            "AWS_PROFILE",
            "ignoring");
    assertThat(s3(MODEL, byProfile).endpoint()).as("the profile's setting").isNull();
    byProfile.put("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false");
    assertThat(s3(MODEL, byProfile).endpoint())
        .as("the variable wins over the profile")
        .isEqualTo("http://all:9000");
    assertThat(
            s3("sources:\n  s3:\n    endpoint: http://sources:9000\n" + MODEL, ignored).endpoint())
        .isEqualTo("http://sources:9000");
  }

  @Test
  void noEndpointAnywhereLeavesItToTheSdkAndTheProfile() {
    // the profile's endpoint_url is the SDK's to apply (AwsProfileServeTest shows it does): the
    // config does not copy it, so that the SDK's own order (services section first) holds
    assertThat(s3(MODEL, env("AWS_CONFIG_FILE", awsConfig.toString(), "AWS_PROFILE", "dev")))
        .extracting(S3Config::endpoint)
        .isNull();
  }

  @Test
  void aBadEndpointVariableIsAConfigErrorNamingIt() {
    assertThatThrownBy(() -> s3(MODEL, env("AWS_ENDPOINT_URL_S3", "minio:9000")))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "AWS_ENDPOINT_URL_S3 (the environment) must be an http(s) URL such as"
                + " https://s3.example.com:9000, not 'minio:9000'");
    assertThatThrownBy(() -> s3(MODEL, env("AWS_ENDPOINT_URL", "ftp://x")))
        .hasMessageStartingWith("AWS_ENDPOINT_URL (the environment) must be an http(s) URL");
  }

  @Test
  void theRegionIsTheKeyThenAwsRegionThenAwsDefaultRegionThenTheProfileThenUsEast1() {
    Map<String, String> all =
        env(
            "AWS_REGION", "eu-north-1",
            "AWS_DEFAULT_REGION", "us-west-2",
            "AWS_CONFIG_FILE", awsConfig.toString(),
            "AWS_PROFILE", "dev");
    assertThat(s3("sources:\n  s3:\n    region: ca-central-1\n" + MODEL, all).region())
        .isEqualTo("ca-central-1");
    assertThat(s3(MODEL + "    s3: {region: af-south-1}\n", all).region()).isEqualTo("af-south-1");
    assertThat(s3(MODEL, all).region()).isEqualTo("eu-north-1");
    all.remove("AWS_REGION");
    assertThat(s3(MODEL, all).region()).isEqualTo("us-west-2");
    all.remove("AWS_DEFAULT_REGION");
    assertThat(s3(MODEL, all).region())
        .as("[profile dev] in AWS_CONFIG_FILE")
        .isEqualTo("eu-west-3");
    all.remove("AWS_PROFILE");
    assertThat(s3(MODEL, all).region()).as("[default]").isEqualTo("eu-central-1");
    all.put("AWS_PROFILE", "noregion");
    assertThat(s3(MODEL, all).region()).isEqualTo("us-east-1");
    assertThat(s3(MODEL, env()).region()).as("nothing set").isEqualTo("us-east-1");
  }

  @Test
  void withoutAwsConfigFileTheProfileIsReadFromHome() {
    String home = dir.resolve("home").toString();
    assertThat(s3(MODEL, env("HOME", home)).region()).isEqualTo("ap-south-1");
    assertThat(s3(MODEL, env("HOME", home, "AWS_PROFILE", "home-only")).region())
        .isEqualTo("sa-east-1");
    assertThat(s3(MODEL, env("HOME", home, "AWS_PROFILE", "absent")).region())
        .as("a profile the file lacks (it may live in the credentials file) gives no region")
        .isEqualTo("us-east-1");
    assertThat(
            s3(MODEL, env("HOME", dir.resolve("nohome").toString(), "AWS_PROFILE", "dev")).region())
        .isEqualTo("us-east-1");
  }

  @Test
  void anUnreadableAwsConfigFileIsAConfigErrorNamingIt() throws Exception {
    Path broken = dir.resolve("broken-config");
    Files.writeString(broken, "[profile dev\nregion = eu-west-3\n");
    assertThatThrownBy(() -> s3(MODEL, env("AWS_CONFIG_FILE", broken.toString())))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(
            broken + " (the AWS config file AWS_CONFIG_FILE names) cannot be read: ");
  }
}
