package dev.modelcache.source;

import dev.modelcache.config.Config;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.config.SourceRef;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * What an AWS SDK failure means for a model: an ordered table of rules (exception type, S3 error
 * code or HTTP status, to an outcome and a message template), the first rule that matches wins.
 * Each message says what failed and what to check; an outcome that may pass is a {@link
 * RetryableSourceException}.
 *
 * <p>A template names its values in braces: {@code {model}}, {@code {what}} (the request, as "HEAD
 * model.pt"), {@code {source}}, {@code {bucket}}, {@code {where}} (the source and the endpoint),
 * {@code {endpointNote}}, {@code {endpoint}}, {@code {region}}, {@code {bucketRegion}} (the one the
 * store named), {@code {version}}, {@code {said}} (the error code and HTTP status), {@code
 * {detail}} (the store's own message), {@code {cause}} (the I/O failure under a client error) and
 * {@code {message}} (the SDK's message).
 */
final class S3Errors {
  /** What the failure becomes. */
  enum Outcome {
    /** A {@link SourceException}: retrying will not help. */
    FAILS,
    /** A {@link SourceException} that keeps the SDK's exception as its cause. */
    FAILS_WITH_CAUSE,
    /** A {@link RetryableSourceException}; "no connection" when no connection could be made. */
    RETRYABLE,
    /** A {@link RangeNotSatisfiableException}: no bytes in the range asked. */
    RANGE_NOT_SATISFIABLE
  }

  /** One row of the table: when it applies, what the failure becomes, and its message. */
  record Rule(String name, Predicate<Failure> when, Outcome outcome, String template) {}

  private static final String CHECK_ENDPOINT =
      "check the endpoint (sources.s3.endpoint, the model's s3.endpoint, AWS_ENDPOINT_URL_S3,"
          + " AWS_ENDPOINT_URL or the AWS profile's endpoint_url) and the"
          + " network";

  /** The table, in order: the first rule that matches a failure gives its outcome and message. */
  static final List<Rule> RULES =
      List.of(
          new Rule(
              "gcs: refused HMAC key",
              gcs(code("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurity")),
              Outcome.FAILS,
              "{model} - {what}: Cloud Storage refused the HMAC key ({said}) at {where}; check"
                  + " GCS_HMAC_ACCESS_ID and GCS_HMAC_SECRET (or sources.gcs.hmac_access_id and"
                  + " hmac_secret): an active HMAC key of a service account, from Cloud Storage's"
                  + " Interoperability settings"),
          new Rule(
              "gcs: access denied",
              gcs(codeOrStatus(Set.of("AccessDenied", "UserProjectMissing"), Set.of(401, 403))),
              Outcome.FAILS,
              "{model} - {what}: access denied ({said}) at {where}; check that the HMAC key's"
                  + " service account may storage.objects.list and storage.objects.get on the"
                  + " bucket (roles/storage.objectViewer), or set sources.gcs.anonymous: true for a"
                  + " public bucket"),
          new Rule(
              "no such bucket",
              type(NoSuchBucketException.class),
              Outcome.FAILS,
              "{model} - bucket '{bucket}' does not exist{endpointNote}; check the bucket name in"
                  + " {source}, the endpoint and the region"),
          new Rule(
              "no such key",
              type(NoSuchKeyException.class),
              Outcome.FAILS,
              "{model} - {what}: no such key in {source} (deleted since it was listed?); fetch"
                  + " again"),
          new Rule(
              "range not satisfiable",
              codeOrStatus(Set.of("InvalidRange"), Set.of(416)),
              Outcome.RANGE_NOT_SATISFIABLE,
              "{model} - {what}: the store has no bytes in the range asked ({said})"),
          new Rule(
              "throttled or server error",
              codeOrStatus(
                  Set.of("SlowDown", "InternalError", "RequestTimeout"),
                  Set.of(429, 500, 502, 503, 504)),
              Outcome.RETRYABLE,
              "{model} - {what}: the store answered {said} at {where}"),
          new Rule(
              "expired credentials",
              code("ExpiredToken", "TokenRefreshRequired", "ExpiredTokenException"),
              Outcome.FAILS,
              "{model} - {what}: the AWS credentials have expired ({said}); refresh them (a new"
                  + " session token, 'aws sso login', the role's web identity token)"),
          new Rule(
              "refused credentials",
              code("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"),
              Outcome.FAILS,
              "{model} - {what}: the store refused the credentials ({said}) at {where}; check"
                  + " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, and that they"
                  + " belong to this endpoint"),
          new Rule(
              "clock skew",
              code("RequestTimeTooSkewed"),
              Outcome.FAILS,
              "{model} - {what}: the store refused the request's time ({said}); fix this machine's"
                  + " clock"),
          new Rule(
              "no such version",
              code("NoSuchVersion")
                  .or(f -> f.versionId() != null && f.service() && f.status() == 404),
              Outcome.FAILS,
              "{model} - {what}: version '{version}' does not exist in {source} ({said}); fix"
                  + " version_ids"),
          new Rule(
              "changed upstream",
              codeOrStatus(Set.of("PreconditionFailed"), Set.of(412)),
              Outcome.FAILS,
              "{model} - {what}: the object changed upstream while it was fetched ({said}); fetch"
                  + " again"),
          new Rule(
              "wrong region",
              codeOrStatus(
                  Set.of("PermanentRedirect", "AuthorizationHeaderMalformed"), Set.of(301)),
              Outcome.FAILS,
              "{model} - bucket '{bucket}' is not in region {region} ({said}); set region to"
                  + " {bucketRegion} (sources.s3.region, the model's s3.region, AWS_REGION or the AWS"
                  + " profile's region)"),
          new Rule(
              "access denied",
              codeOrStatus(
                  Set.of("AccessDenied", "AllAccessDisabled", "AccountProblem"), Set.of(403)),
              Outcome.FAILS,
              "{model} - {what}: access denied ({said}) at {where}; check that the credentials"
                  + " (AWS_PROFILE, AWS_ACCESS_KEY_ID, the role) may s3:ListBucket and s3:GetObject"
                  + " there (s3:PutObject to mirror), or set anonymous: true for a public bucket"),
          new Rule(
              "not found",
              codeOrStatus(Set.of(), Set.of(404)),
              Outcome.FAILS,
              "{model} - {what}: not found ({said}) at {where}"),
          new Rule(
              "any other S3 error",
              Failure::service,
              Outcome.FAILS,
              "{model} - {what}: the store answered {said} at {where}{detail}"),
          new Rule(
              "sso session expired",
              f ->
                  f.error() instanceof SdkClientException
                      && (String.valueOf(f.error().getMessage()).contains("SSO session")
                          || String.valueOf(f.error().getMessage()).contains("Token is expired")),
              Outcome.FAILS,
              "{model} - the IAM Identity Center (SSO) session of the AWS profile has expired or is"
                  + " invalid, so there are no credentials for {source}: run 'aws sso login' for that"
                  + " profile (it refreshes the token cached in ~/.aws/sso/cache), then fetch again"),
          new Rule(
              "no credentials",
              f ->
                  f.error() instanceof SdkClientException
                      && String.valueOf(f.error().getMessage())
                          .contains("Unable to load credentials"),
              Outcome.FAILS,
              "{model} - no AWS credentials found for {source} (looked in"
                  + " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, web identity,"
                  + " container and instance roles); provide some, or set anonymous: true for a"
                  + " public bucket"),
          new Rule(
              "unreachable",
              f -> f.error() instanceof SdkClientException && f.ioCause() != null,
              Outcome.RETRYABLE,
              "{model} - {what}: cannot reach the S3 endpoint {endpoint} ({cause}); "
                  + CHECK_ENDPOINT),
          new Rule(
              "anything else", f -> true, Outcome.FAILS_WITH_CAUSE, "{model} - {what}: {message}"));

  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(\\w+)}");

  private S3Errors() {}

  /**
   * The exception that says what {@code error} means for {@code model}: {@code what} names the
   * request ("HEAD model.pt", "listing s3://bucket/prefix"), {@code versionId} the version asked
   * for (null when none).
   */
  static SourceException failure(
      ModelConfig model, String what, @Nullable String versionId, SdkException error) {
    Failure failure = new Failure(model, what, versionId, error);
    return failure.become(rule(failure));
  }

  /** The first rule of the table that matches {@code failure}. */
  static Rule rule(Failure failure) {
    return RULES.stream().filter(r -> r.when().test(failure)).findFirst().orElseThrow();
  }

  /**
   * One failed request: the model, what was asked, the version asked for, and what the SDK threw.
   */
  record Failure(ModelConfig model, String what, @Nullable String versionId, SdkException error) {
    /** Whether the store itself answered (an S3 error response), as opposed to the client. */
    boolean service() {
      return error instanceof S3Exception;
    }

    int status() {
      return service() ? ((S3Exception) error).statusCode() : -1;
    }

    String code() {
      if (!(error instanceof S3Exception s3)
          || s3.awsErrorDetails() == null
          || s3.awsErrorDetails().errorCode() == null) {
        return "";
      }
      return s3.awsErrorDetails().errorCode();
    }

    /** The first {@link IOException} under a client error, or the last cause when none is. */
    @Nullable IOException ioCause() {
      Throwable cause = error;
      while (cause.getCause() != null && !(cause instanceof IOException)) {
        cause = cause.getCause();
      }
      return cause instanceof IOException io ? io : null;
    }

    SourceException become(Rule rule) {
      String message = render(rule.template());
      return switch (rule.outcome()) {
        case FAILS -> new SourceException(message);
        case FAILS_WITH_CAUSE -> new SourceException(message, error);
        case RANGE_NOT_SATISFIABLE -> new RangeNotSatisfiableException(message);
        case RETRYABLE ->
            new RetryableSourceException(
                message, null, !service() && RetryableSourceException.isNoConnection(ioCause()));
      };
    }

    String render(String template) {
      Matcher matcher = PLACEHOLDER.matcher(template);
      StringBuilder message = new StringBuilder();
      while (matcher.find()) {
        matcher.appendReplacement(message, Matcher.quoteReplacement(value(matcher.group(1))));
      }
      return matcher.appendTail(message).toString();
    }

    private String value(String name) {
      return switch (name) {
        case "model" -> model.name();
        case "what" -> what;
        case "source" -> String.valueOf(model.source());
        case "bucket" -> S3Source.bucket(model);
        case "where" -> model.source() + endpointNote();
        case "endpointNote" -> endpointNote();
        case "endpoint" -> s3().endpoint() != null ? s3().endpoint() : "of AWS in " + s3().region();
        case "region" -> s3().region();
        case "bucketRegion" -> bucketRegion();
        case "version" -> String.valueOf(versionId);
        case "said" -> (code().isEmpty() ? "" : code() + ", ") + "HTTP " + status();
        case "detail" -> detail();
        case "cause" -> cause().getClass().getSimpleName() + ": " + cause().getMessage();
        case "message" -> String.valueOf(error.getMessage());
        default -> throw new IllegalArgumentException("no value {" + name + "} in a template");
      };
    }

    private String endpointNote() {
      return s3().endpoint() != null ? " at " + s3().endpoint() : " in AWS region " + s3().region();
    }

    /** The model's S3 settings: an S3 failure is an {@code s3://} or {@code gs://} model's. */
    private Config.S3Config s3() {
      return Objects.requireNonNull(model.s3(), "an s3:// model has S3 settings");
    }

    /** {@link #ioCause()} where a rule's template says {cause}: its matcher found one. */
    private IOException cause() {
      return Objects.requireNonNull(ioCause(), "a {cause} rule matches an IOException");
    }

    /** The region the store says the bucket is in ({@code x-amz-bucket-region}), if it said. */
    private String bucketRegion() {
      if (error instanceof S3Exception s3
          && s3.awsErrorDetails() != null
          && s3.awsErrorDetails().sdkHttpResponse() != null) {
        return s3.awsErrorDetails()
            .sdkHttpResponse()
            .firstMatchingHeader("x-amz-bucket-region")
            .orElse("the bucket's region");
      }
      return "the bucket's region";
    }

    private String detail() {
      S3Exception s3 = (S3Exception) error;
      return s3.awsErrorDetails() == null || s3.awsErrorDetails().errorMessage() == null
          ? ""
          : ": " + s3.awsErrorDetails().errorMessage();
    }
  }

  private static Predicate<Failure> type(Class<? extends SdkException> type) {
    return f -> type.isInstance(f.error());
  }

  /** {@code when}, for a {@code gs://} model only (its advice names GCS's own settings). */
  private static Predicate<Failure> gcs(Predicate<Failure> when) {
    return f -> f.model().source().scheme() == SourceRef.Scheme.GCS && when.test(f);
  }

  private static Predicate<Failure> code(String... codes) {
    return codeOrStatus(Set.of(codes), Set.of());
  }

  private static Predicate<Failure> codeOrStatus(Set<String> codes, Set<Integer> statuses) {
    return f -> f.service() && (codes.contains(f.code()) || statuses.contains(f.status()));
  }
}
