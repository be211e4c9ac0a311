package dev.modelcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.EngineException;
import ai.djl.translate.TranslateException;
import dev.modelcache.LogCapture;
import dev.modelcache.inference.InferenceFailedException;
import dev.modelcache.inference.InferenceTimeoutException;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelNotReadyException;
import dev.modelcache.inference.QueueFullException;
import dev.modelcache.inference.TooManyItemsException;
import dev.modelcache.inference.UnknownModelException;
import io.javalin.http.HttpResponseException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

class ErrorMappingTest {
  private final ErrorMapping errors = new ErrorMapping(1000);

  @BeforeEach
  void request() {
    MDC.put(RequestLog.MDC_REQUEST_ID, "req-1");
  }

  @AfterEach
  void clear() {
    MDC.clear();
  }

  private ErrorMapping.Reply reply(Throwable e) {
    return errors.reply(e, "POST", "/inference/iris");
  }

  @Test
  void engineFailureInsideATranslateExceptionIs500AndLoggedOnceWithItsStack() {
    EngineException engine =
        new EngineException(
            "The following operation failed in the TorchScript interpreter.\nTraceback: ...");
    try (LogCapture log = new LogCapture(ErrorMapping.class)) {
      ErrorMapping.Reply reply =
          reply(new InferenceFailedException("iris", new TranslateException(engine)));

      assertThat(reply.status()).isEqualTo(500);
      assertThat(reply.message())
          .isEqualTo(
              "iris - the inference engine failed: The following operation failed in the"
                  + " TorchScript interpreter. (an engine failure, not a fault of the request:"
                  + " the log has its stack trace under request req-1)");
      assertThat(reply.headers()).isEmpty();
      assertThat(log.lines())
          .containsExactly(
              "ERROR iris - engine failure on POST /inference/iris (request req-1); answered 500");
      assertThat(log.thrown()).containsExactly(InferenceFailedException.class.getName());
    }
  }

  @Test
  void engineFailureAloneIs500() {
    ErrorMapping.Reply reply =
        reply(new InferenceFailedException("iris", new EngineException("CUDA error")));
    assertThat(reply.status()).isEqualTo(500);
    assertThat(reply.message()).startsWith("iris - the inference engine failed: CUDA error (");
  }

  @Test
  void translateExceptionCausedByBadInputIs400() {
    ErrorMapping.Reply decoding =
        reply(
            new InferenceFailedException(
                "colors",
                new TranslateException(
                    "input decoding", new IllegalArgumentException("not a PNG header"))));
    assertThat(decoding)
        .isEqualTo(
            new ErrorMapping.Reply(
                400, "colors could not run on these" + " inputs: not a PNG header"));

    ErrorMapping.Reply ours =
        reply(
            new InferenceFailedException(
                "iris", new TranslateException(new InvalidInputException("inputs[0] is empty"))));
    assertThat(ours)
        .isEqualTo(
            new ErrorMapping.Reply(400, "iris could not run on these inputs: inputs[0] is empty"));
  }

  @Test
  void outOfMemoryIs503WithRetryAfterAndLogged() {
    try (LogCapture log = new LogCapture(ErrorMapping.class)) {
      ErrorMapping.Reply reply =
          reply(new InferenceFailedException("iris", new OutOfMemoryError("Java heap space")));

      assertThat(reply)
          .isEqualTo(
              new ErrorMapping.Reply(
                  503,
                  "iris - ran out of memory (Java heap space); retry later or with fewer inputs",
                  Map.of("Retry-After", "5")));
      assertThat(log.lines())
          .containsExactly(
              "WARN iris - out of memory on POST /inference/iris (request req-1); answered 503:"
                  + " java.lang.OutOfMemoryError: Java heap space");
    }
  }

  @Test
  void anythingElseInsideTheModelIs500NamingABugOrAnEngineFailure() {
    try (LogCapture log = new LogCapture(ErrorMapping.class)) {
      ErrorMapping.Reply reply =
          reply(
              new InferenceFailedException(
                  "iris", new IllegalStateException("the translator returned 2 outputs for 3")));

      assertThat(reply.status()).isEqualTo(500);
      assertThat(reply.message())
          .isEqualTo(
              "iris - inference failed: the translator returned 2 outputs for 3 (a bug in"
                  + " modelcache or an engine failure: please report it with the log line of"
                  + " request req-1)");
      assertThat(log.lines())
          .containsExactly(
              "ERROR iris - inference failed on POST /inference/iris (request req-1): a bug in"
                  + " modelcache or an engine failure; answered 500");
      assertThat(log.thrown()).containsExactly(InferenceFailedException.class.getName());
    }
  }

  @Test
  void aTranslateExceptionWithoutABadInputIs500() {
    ErrorMapping.Reply reply =
        reply(
            new InferenceFailedException(
                "iris", new TranslateException("a batch of 3 rows gave an output of shape [1]")));
    assertThat(reply.status()).isEqualTo(500);
  }

  @Test
  void domainExceptionsKeepTheirStatuses() {
    assertThat(reply(new InvalidInputException("inputs[0] is a string")))
        .isEqualTo(new ErrorMapping.Reply(400, "inputs[0] is a string"));
    assertThat(reply(new UnknownModelException("model 'x' is not configured")))
        .isEqualTo(new ErrorMapping.Reply(404, "model 'x' is not configured"));
    assertThat(reply(new ModelNotReadyException("iris is LOADING")))
        .isEqualTo(new ErrorMapping.Reply(503, "iris is LOADING", Map.of("Retry-After", "5")));
    assertThat(reply(new QueueFullException("iris - queue full")))
        .isEqualTo(new ErrorMapping.Reply(503, "iris - queue full", Map.of("Retry-After", "1")));
    assertThat(reply(new InferenceTimeoutException("iris - no answer")))
        .isEqualTo(new ErrorMapping.Reply(504, "iris - no answer"));
    assertThat(reply(new TooManyItemsException("too many items")))
        .isEqualTo(new ErrorMapping.Reply(413, "too many items"));
  }

  @Test
  void httpErrorsKeepTheirStatusWithTheHeadersItNeeds() {
    assertThat(reply(new HttpError(401, "the bearer token is wrong")))
        .isEqualTo(
            new ErrorMapping.Reply(
                401, "the bearer token is wrong", Map.of("WWW-Authenticate", "Bearer")));
    assertThat(reply(new HttpError(503, "over the memory budget")))
        .isEqualTo(
            new ErrorMapping.Reply(503, "over the memory budget", Map.of("Retry-After", "1")));
    assertThat(reply(new HttpError(415, "send application/json")))
        .isEqualTo(new ErrorMapping.Reply(415, "send application/json"));
  }

  @Test
  void routingErrorsNameTheRouteAndTheLimit() {
    assertThat(errors.reply(new HttpResponseException(404), "GET", "/nope"))
        .isEqualTo(
            new ErrorMapping.Reply(
                404, "no route GET /nope (routes: " + ErrorMapping.ROUTES + ")"));
    assertThat(errors.reply(new HttpResponseException(405), "DELETE", "/models"))
        .isEqualTo(new ErrorMapping.Reply(405, "method DELETE is not allowed on /models"));
    assertThat(errors.reply(new HttpResponseException(413), "POST", "/inference"))
        .isEqualTo(
            new ErrorMapping.Reply(
                413, "request body is larger than server.max_body_bytes (1000 bytes)"));
    assertThat(errors.reply(new HttpResponseException(400, "bad header"), "GET", "/"))
        .isEqualTo(new ErrorMapping.Reply(400, "bad header"));
  }

  @Test
  void anyOtherExceptionIsABugLoggedOnce() {
    try (LogCapture log = new LogCapture(ErrorMapping.class)) {
      ErrorMapping.Reply reply = reply(new NullPointerException("boom"));

      assertThat(reply)
          .isEqualTo(
              new ErrorMapping.Reply(
                  500,
                  "internal error: NullPointerException: boom (a bug in modelcache: please report"
                      + " it with the log line of request req-1)"));
      assertThat(log.lines()).containsExactly("ERROR POST /inference/iris - internal error");
      assertThat(log.thrown()).isEqualTo(List.of(NullPointerException.class.getName()));
    }
  }

  @Test
  void aMissingMessageSaysTheStatus() {
    assertThat(reply(new InferenceTimeoutException(null)).message()).isEqualTo("HTTP 504");
  }
}
