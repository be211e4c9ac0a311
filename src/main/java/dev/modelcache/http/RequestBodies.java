package dev.modelcache.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the bodies of the inference routes (the raw bytes, or one JSON object) within their {@link
 * Admission} reservation, and streams their answers.
 *
 * <pre>{@code
 * JsonNode body = bodies.json(ctx);
 * bodies.respond(ctx, registry.infer(model, body));
 * }</pre>
 */
final class RequestBodies {
  private static final Logger log = LoggerFactory.getLogger(RequestBodies.class);

  private final ObjectMapper json;
  private final Admission admission;

  /** Bodies up to this size, of a declared length, are read in one array of their size. */
  private static final int SMALL_BODY = 64 * 1024;

  RequestBodies(ObjectMapper json, Admission admission) {
    this.json = json;
    this.admission = admission;
  }

  /** The body as one JSON object: 415 for another content type, 400 for anything but an object. */
  JsonNode json(Context ctx) {
    byte[] bytes = jsonBytes(ctx);
    return object(bytes, bytes.length, "request body");
  }

  /** The bytes of a JSON body, not parsed yet: 415 for another content type. */
  byte[] jsonBytes(Context ctx) {
    return jsonBytes(ctx, ctx.contentType());
  }

  /**
   * {@link #jsonBytes(Context)} of a request whose Content-Type the caller has read: {@code type}.
   */
  byte[] jsonBytes(Context ctx, @Nullable String type) {
    if (type != null && !type.toLowerCase(Locale.ROOT).contains("json")) {
      throw new HttpError(
          415,
          "Content-Type is '"
              + type
              + "'; send application/json"
              + " (with curl: -H 'Content-Type: application/json')");
    }
    return bytes(ctx);
  }

  /**
   * The string value of {@code field} when it is the first field of the JSON object in {@code
   * bytes}; null for anything else (the body is then read as a tree, whose errors say what is
   * wrong). A look at a few tokens, for a route that must know the model before it parses the rest.
   */
  @Nullable String firstString(byte[] bytes, String field) {
    try (JsonParser p = json.getFactory().createParser(bytes)) {
      return p.nextToken() == JsonToken.START_OBJECT
              && p.nextToken() == JsonToken.FIELD_NAME
              && p.currentName().equals(field)
              && p.nextToken() == JsonToken.VALUE_STRING
          ? p.getText()
          : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * The first {@code length} bytes of {@code bytes} as one JSON object: 400 naming {@code what}
   * (such as "request body") when they are empty, not JSON, or not an object.
   */
  JsonNode object(byte[] bytes, int length, String what) {
    if (length == 0) {
      throw new HttpError(
          400, what + " is empty; send a JSON object such as {\"inputs\": [[1, 2, 3, 4]]}");
    }
    JsonNode body;
    try {
      body = json.readTree(bytes, 0, length);
    } catch (JsonProcessingException e) {
      throw new HttpError(400, what + " is not valid JSON: " + where(e));
    } catch (IOException e) {
      throw new HttpError(400, what + " could not be read: " + e.getMessage(), e);
    }
    if (body == null || !body.isObject()) {
      throw new HttpError(
          400, what + " must be a JSON object such as {\"inputs\": [[1, 2, 3, 4]]}");
    }
    return body;
  }

  private static String where(JsonProcessingException e) {
    return e.getOriginalMessage()
        + (e.getLocation() == null
            ? ""
            : " (line "
                + e.getLocation().getLineNr()
                + ", column "
                + e.getLocation().getColumnNr()
                + ")");
  }

  /**
   * The request body. A body broken on the wire (shorter than its Content-Length, a chunk size that
   * is not hex, the connection closed mid-body) is the client's fault: 400, not a 500 and no ERROR
   * line. Jetty reports it as an IOException that Javalin rethrows unchecked.
   */
  byte[] bytes(Context ctx) {
    byte[] bytes;
    try {
      bytes = small(ctx);
      if (bytes == null) {
        bytes = ctx.bodyAsBytes();
      }
    } catch (HttpResponseException e) {
      throw e; // 413 past server.max_body_bytes
    } catch (Exception e) {
      if (e instanceof IOException || e instanceof org.eclipse.jetty.http.HttpException) {
        log.debug("{} {} - body could not be read: {}", ctx.method(), ctx.path(), e.toString());
        throw new HttpError(
            400,
            "request body could not be read: the connection ended or the chunked encoding broke"
                + " before the body was complete ("
                + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage())
                + "); send the whole body, as many bytes as Content-Length says or in valid"
                + " chunks",
            e);
      }
      throw e instanceof RuntimeException unchecked ? unchecked : new IllegalStateException(e);
    }
    admission.read(ctx, bytes.length);
    return bytes;
  }

  /**
   * A small body of a declared length within {@code server.max_body_bytes}, read in one array of
   * its size (Javalin's {@code bodyAsBytes} reads through an 8 KiB buffer and a growing copy: a
   * fifth of a small request's garbage); null for any other body, which Javalin reads and limits.
   */
  private byte @Nullable [] small(Context ctx) throws IOException {
    long declared = ctx.req().getContentLengthLong();
    if (declared < 0 || declared > SMALL_BODY || declared > admission.maxBodyBytes()) {
      return null;
    }
    byte[] bytes = ctx.req().getInputStream().readNBytes((int) declared);
    if (bytes.length < declared) {
      throw new java.io.EOFException(
          "the body ended after " + bytes.length + " of its " + declared + " bytes");
    }
    return bytes;
  }

  /**
   * The answer of an inference route, written here so that the heap it takes is part of the
   * request's reservation (Javalin's {@code ctx.json} would write it after the handler).
   */
  void respond(Context ctx, Object answer) {
    ctx.contentType("application/json");
    try {
      // streamed: a large answer is never held a second time as bytes
      json.writeValue(ctx.outputStream(), answer);
    } catch (IOException e) {
      left(ctx, e);
    }
  }

  /** An answer already in parts (such as a JSON header and binary tensors), sent in one body. */
  void respond(Context ctx, String contentType, List<byte[]> parts) {
    long length = 0;
    for (byte[] part : parts) {
      length += part.length;
    }
    ctx.contentType(contentType);
    ctx.header("Content-Length", Long.toString(length));
    try {
      OutputStream out = ctx.outputStream();
      for (byte[] part : parts) {
        out.write(part);
      }
    } catch (IOException e) {
      left(ctx, e);
    }
  }

  private static void left(Context ctx, IOException e) {
    log.debug(
        "{} {} - the client left while its answer was sent: {}",
        ctx.method(),
        ctx.path(),
        e.toString());
  }
}
