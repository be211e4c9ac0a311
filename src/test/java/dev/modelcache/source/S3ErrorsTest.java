package dev.modelcache.source;

import static org.assertj.core.api.Assertions.assertThat;

import dev.modelcache.config.ConfigLoader;
import dev.modelcache.config.ModelConfig;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * {@link S3Errors} on the SDK's own exception objects: each rule of the table, its message word for
 * word and whether it may pass.
 */
class S3ErrorsTest {
  private static final String ENDPOINT = "http://127.0.0.1:9";

  @TempDir Path tmp;
  private ModelConfig model;
  private ModelConfig aws;

  @BeforeEach
  void models() {
    model =
        model(
            "sources:\n  s3:\n    endpoint: "
                + ENDPOINT
                + "\n    path_style: true\nmodels:\n  - name: m\n    source: s3://bkt/m\n");
    aws =
        model(
            "sources:\n  s3:\n    region: eu-west-3\nmodels:\n  - name: a\n    source: s3://bkt/a\n");
  }

  @Test
  void missingBucketAndKeyComeBeforeTheirStatus() {
    assertFails(
        NoSuchBucketException.builder().statusCode(404).build(),
        null,
        "no such bucket",
        "m - bucket 'bkt' does not exist at "
            + ENDPOINT
            + "; check the bucket name in s3://bkt/m, the endpoint and the region");
    assertThat(
            S3Errors.failure(
                    aws, "listing s3://bkt/a", null, NoSuchBucketException.builder().build())
                .getMessage())
        .isEqualTo(
            "a - bucket 'bkt' does not exist in AWS region eu-west-3; check the bucket name in"
                + " s3://bkt/a, the endpoint and the region");
    assertFails(
        NoSuchKeyException.builder().statusCode(404).build(),
        "v1",
        "no such key",
        "m - GET x: no such key in s3://bkt/m (deleted since it was listed?); fetch again");
  }

  @Test
  void anEmptyRangeIsItsOwnException() {
    SourceException byStatus = S3Errors.failure(model, "GET x", null, s3(416, null, null));
    assertThat(byStatus)
        .isExactlyInstanceOf(RangeNotSatisfiableException.class)
        .hasMessage("m - GET x: the store has no bytes in the range asked (HTTP 416)");
    SourceException byCode = S3Errors.failure(model, "GET x", null, s3(400, "InvalidRange", null));
    assertThat(byCode)
        .isExactlyInstanceOf(RangeNotSatisfiableException.class)
        .hasMessage(
            "m - GET x: the store has no bytes in the range asked (InvalidRange, HTTP 400)");
  }

  @Test
  void throttlingAndServerErrorsMayPass() {
    for (int status : new int[] {429, 500, 502, 503, 504}) {
      assertRetryable(
          s3(status, null, null),
          false,
          "m - GET x: the store answered HTTP " + status + " at s3://bkt/m at " + ENDPOINT);
    }
    for (String code : new String[] {"SlowDown", "InternalError", "RequestTimeout"}) {
      assertRetryable(
          s3(400, code, null),
          false,
          "m - GET x: the store answered " + code + ", HTTP 400 at s3://bkt/m at " + ENDPOINT);
    }
  }

  @Test
  void credentialsExpiredRefusedOrMissing() {
    for (String code :
        new String[] {"ExpiredToken", "TokenRefreshRequired", "ExpiredTokenException"}) {
      assertFails(
          s3(400, code, null),
          null,
          "expired credentials",
          "m - GET x: the AWS credentials have expired ("
              + code
              + ", HTTP 400); refresh them (a new session token, 'aws sso login', the role's web"
              + " identity token)");
    }
    for (String code :
        new String[] {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}) {
      assertFails(
          s3(403, code, null),
          null,
          "refused credentials",
          "m - GET x: the store refused the credentials ("
              + code
              + ", HTTP 403) at s3://bkt/m at "
              + ENDPOINT
              + "; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, and that"
              + " they belong to this endpoint");
    }
    assertFails(
        SdkClientException.create(
            "Unable to load credentials from any of the providers in the chain"),
        null,
        "no credentials",
        "m - no AWS credentials found for s3://bkt/m (looked in"
            + " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, web identity,"
            + " container and instance roles); provide some, or set anonymous: true for a public"
            + " bucket");
    assertFails(
        SdkClientException.create(
            "Unable to load credentials from any of the providers in the chain:"
                + " ProfileCredentialsProvider(profileName=dev): The SSO session associated with"
                + " this profile has expired or is otherwise invalid."),
        null,
        "sso session expired",
        "m - the IAM Identity Center (SSO) session of the AWS profile has expired or is invalid,"
            + " so there are no credentials for s3://bkt/m: run 'aws sso login' for that profile"
            + " (it refreshes the token cached in ~/.aws/sso/cache), then fetch again");
  }

  @Test
  void aSkewedClock() {
    assertFails(
        s3(403, "RequestTimeTooSkewed", null),
        null,
        "clock skew",
        "m - GET x: the store refused the request's time (RequestTimeTooSkewed, HTTP 403); fix"
            + " this machine's clock");
  }

  @Test
  void aMissingVersionOnlyWhenAVersionWasAsked() {
    assertFails(
        s3(404, null, null),
        "v1",
        "no such version",
        "m - GET x: version 'v1' does not exist in s3://bkt/m (HTTP 404); fix version_ids");
    assertFails(
        s3(400, "NoSuchVersion", null),
        "v2",
        "no such version",
        "m - GET x: version 'v2' does not exist in s3://bkt/m (NoSuchVersion, HTTP 400); fix"
            + " version_ids");
    assertFails(
        s3(404, null, null),
        null,
        "not found",
        "m - GET x: not found (HTTP 404) at s3://bkt/m at " + ENDPOINT);
  }

  @Test
  void anObjectReplacedDuringTheFetch() {
    for (SdkException e :
        new SdkException[] {s3(412, null, null), s3(400, "PreconditionFailed", null)}) {
      assertThat(S3Errors.failure(model, "GET x", "v1", e).getMessage())
          .startsWith("m - GET x: the object changed upstream while it was fetched (")
          .endsWith("); fetch again");
    }
    assertFails(
        s3(412, "PreconditionFailed", null),
        null,
        "changed upstream",
        "m - GET x: the object changed upstream while it was fetched (PreconditionFailed, HTTP"
            + " 412); fetch again");
  }

  @Test
  void theWrongRegionNamesTheBucketsRegionWhenTheStoreSaysIt() {
    assertFails(
        s3(301, "PermanentRedirect", "eu-central-1"),
        null,
        "wrong region",
        "m - bucket 'bkt' is not in region us-east-1 (PermanentRedirect, HTTP 301); set region"
            + " to eu-central-1 (sources.s3.region, the model's s3.region, AWS_REGION or the AWS"
            + " profile's region)");
    assertThat(
            S3Errors.failure(aws, "GET x", null, s3(400, "AuthorizationHeaderMalformed", null))
                .getMessage())
        .isEqualTo(
            "a - bucket 'bkt' is not in region eu-west-3 (AuthorizationHeaderMalformed, HTTP 400);"
                + " set region to the bucket's region (sources.s3.region, the model's s3.region,"
                + " AWS_REGION or the AWS profile's region)");
  }

  @Test
  void accessDenied() {
    for (SdkException e :
        new SdkException[] {
          s3(403, null, null), s3(403, "AccessDenied", null), s3(403, "AllAccessDisabled", null)
        }) {
      assertThat(S3Errors.failure(model, "listing s3://bkt/m", null, e))
          .isExactlyInstanceOf(SourceException.class)
          .message()
          .endsWith(
              ") at s3://bkt/m at "
                  + ENDPOINT
                  + "; check that the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, the role) may"
                  + " s3:ListBucket and s3:GetObject there (s3:PutObject to mirror), or set"
                  + " anonymous: true for a public bucket");
    }
    assertFails(
        s3(400, "AccountProblem", null),
        null,
        "access denied",
        "m - GET x: access denied (AccountProblem, HTTP 400) at s3://bkt/m at "
            + ENDPOINT
            + "; check that the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, the role) may"
            + " s3:ListBucket and s3:GetObject there (s3:PutObject to mirror), or set anonymous:"
            + " true for a public bucket");
  }

  @Test
  void anyOtherStoreErrorSaysWhatTheStoreSaid() {
    S3Exception e =
        (S3Exception)
            S3Exception.builder()
                .statusCode(400)
                .awsErrorDetails(
                    AwsErrorDetails.builder()
                        .errorCode("InvalidArgument")
                        .errorMessage("Invalid argument.")
                        .build())
                .build();
    assertFails(
        e,
        null,
        "any other S3 error",
        "m - GET x: the store answered InvalidArgument, HTTP 400 at s3://bkt/m at "
            + ENDPOINT
            + ": Invalid argument.");
    assertThat(S3Errors.failure(aws, "GET x", null, s3(418, null, null)).getMessage())
        .isEqualTo("a - GET x: the store answered HTTP 418 at s3://bkt/a in AWS region eu-west-3");
  }

  @Test
  void anUnreachableEndpointMayPassAndSaysWhetherItConnectedAtAll() {
    String check =
        "; check the endpoint (sources.s3.endpoint, the model's s3.endpoint, AWS_ENDPOINT_URL_S3,"
            + " AWS_ENDPOINT_URL or the AWS profile's endpoint_url) and the network";
    assertRetryable(
        clientError(new ConnectException("Connection refused")),
        true,
        "m - GET x: cannot reach the S3 endpoint "
            + ENDPOINT
            + " (ConnectException: Connection refused)"
            + check);
    assertRetryable(
        clientError(new UnknownHostException("nowhere.invalid")),
        true,
        "m - GET x: cannot reach the S3 endpoint "
            + ENDPOINT
            + " (UnknownHostException: nowhere.invalid)"
            + check);
    assertRetryable(
        clientError(new RuntimeException("wrapped", new SocketTimeoutException("Read timed out"))),
        false,
        "m - GET x: cannot reach the S3 endpoint "
            + ENDPOINT
            + " (SocketTimeoutException: Read timed out)"
            + check);
    SourceException cut =
        S3Errors.failure(aws, "GET x", null, clientError(new IOException("Premature EOF")));
    assertThat(cut)
        .isExactlyInstanceOf(RetryableSourceException.class)
        .hasMessage(
            "a - GET x: cannot reach the S3 endpoint of AWS in eu-west-3 (IOException: Premature"
                + " EOF)"
                + check);
    assertThat(((RetryableSourceException) cut).noConnection()).isFalse();
  }

  @Test
  void anythingElseKeepsTheSdksMessageAndCause() {
    SdkClientException client =
        SdkClientException.builder()
            .message("Unable to marshall request")
            .cause(new IllegalStateException("bad"))
            .build();
    assertFails(client, null, "anything else", "m - GET x: Unable to marshall request");
    assertThat(S3Errors.failure(model, "GET x", null, client)).hasCause(client);

    // a service error of another AWS service is not an S3 answer: no status rule applies
    AwsServiceException other =
        AwsServiceException.builder().statusCode(503).message("sts").build();
    SourceException failure = S3Errors.failure(model, "GET x", null, other);
    assertThat(failure)
        .isExactlyInstanceOf(SourceException.class)
        .hasMessage("m - GET x: " + other.getMessage())
        .hasCause(other);
  }

  @Test
  void everyRuleIsReachableAndNamedOnce() {
    Map<String, SdkException> examples = new LinkedHashMap<>();
    examples.put("no such bucket", NoSuchBucketException.builder().statusCode(404).build());
    examples.put("no such key", NoSuchKeyException.builder().statusCode(404).build());
    examples.put("range not satisfiable", s3(416, null, null));
    examples.put("throttled or server error", s3(503, "SlowDown", null));
    examples.put("expired credentials", s3(400, "ExpiredToken", null));
    examples.put("refused credentials", s3(403, "InvalidAccessKeyId", null));
    examples.put("clock skew", s3(403, "RequestTimeTooSkewed", null));
    examples.put("no such version", s3(404, "NoSuchVersion", null));
    examples.put("changed upstream", s3(412, null, null));
    examples.put("wrong region", s3(301, null, null));
    examples.put("access denied", s3(403, null, null));
    examples.put("not found", s3(404, null, null));
    examples.put("any other S3 error", s3(400, "InvalidArgument", null));
    examples.put(
        "sso session expired",
        SdkClientException.create(
            "Unable to load credentials from any of the providers in the chain: [...,"
                + " ProfileCredentialsProvider(profileName=dev): Token is expired, ...]"));
    examples.put("no credentials", SdkClientException.create("Unable to load credentials"));
    examples.put("unreachable", clientError(new ConnectException("Connection refused")));
    examples.put("anything else", SdkClientException.create("Unable to marshall request"));
    for (Map.Entry<String, SdkException> example : examples.entrySet()) {
      assertThat(
              S3Errors.rule(new S3Errors.Failure(model, "GET x", null, example.getValue())).name())
          .as(example.getKey())
          .isEqualTo(example.getKey());
    }
    ModelConfig gcs =
        model(
            "sources:\n  gcs:\n    endpoint: "
                + ENDPOINT
                + "\n    anonymous: true\nmodels:\n  - name: g\n    source: gs://bkt/g\n");
    Map<String, SdkException> gcsExamples = new LinkedHashMap<>();
    gcsExamples.put("gcs: refused HMAC key", s3(403, "SignatureDoesNotMatch", null));
    gcsExamples.put("gcs: access denied", s3(403, "AccessDenied", null));
    for (Map.Entry<String, SdkException> example : gcsExamples.entrySet()) {
      assertThat(S3Errors.rule(new S3Errors.Failure(gcs, "GET x", null, example.getValue())).name())
          .as(example.getKey())
          .isEqualTo(example.getKey());
    }
    List<String> names = new ArrayList<>(gcsExamples.keySet());
    names.addAll(examples.keySet());
    assertThat(S3Errors.RULES.stream().map(S3Errors.Rule::name).toList())
        .containsExactlyElementsOf(names);
  }

  private void assertFails(SdkException e, String versionId, String rule, String message) {
    assertThat(S3Errors.rule(new S3Errors.Failure(model, "GET x", versionId, e)).name())
        .isEqualTo(rule);
    String what = rule.equals("no such bucket") ? "listing s3://bkt/m" : "GET x";
    SourceException failure = S3Errors.failure(model, what, versionId, e);
    assertThat(failure).isExactlyInstanceOf(SourceException.class).hasMessage(message);
  }

  private void assertRetryable(SdkException e, boolean noConnection, String message) {
    SourceException failure = S3Errors.failure(model, "GET x", null, e);
    assertThat(failure).isExactlyInstanceOf(RetryableSourceException.class).hasMessage(message);
    assertThat(((RetryableSourceException) failure).noConnection()).isEqualTo(noConnection);
    assertThat(((RetryableSourceException) failure).retryAfter()).isNull();
  }

  private static S3Exception s3(int status, String code, String bucketRegion) {
    SdkHttpResponse.Builder response = SdkHttpResponse.builder().statusCode(status);
    if (bucketRegion != null) {
      response.putHeader("x-amz-bucket-region", bucketRegion);
    }
    return (S3Exception)
        S3Exception.builder()
            .statusCode(status)
            .awsErrorDetails(
                AwsErrorDetails.builder().errorCode(code).sdkHttpResponse(response.build()).build())
            .build();
  }

  private static SdkClientException clientError(Throwable cause) {
    return SdkClientException.builder()
        .message("Unable to execute HTTP request: " + cause.getMessage())
        .cause(cause)
        .build();
  }

  private ModelConfig model(String yaml) {
    return new ConfigLoader(Map.of(), tmp).parse(yaml, "test", tmp).models().get(0);
  }
}
