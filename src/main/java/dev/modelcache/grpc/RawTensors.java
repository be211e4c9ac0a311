package dev.modelcache.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.google.protobuf.ByteString;
import dev.modelcache.inference.InvalidInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Tensor data in the raw form of {@code raw_input_contents} and {@code raw_output_contents}: the
 * elements flat, row-major, little-endian, without padding; a {@code BYTES} element is a 4-byte
 * little-endian length followed by that many bytes (Triton's layout, which tritonclient writes).
 */
final class RawTensors {
  private RawTensors() {}

  /**
   * The {@code count} elements of {@code bytes} as a flat JSON array, or an error naming {@code
   * label} when the size does not match.
   */
  static ArrayNode decode(Datatype type, ByteString bytes, long count, String label) {
    if (type == Datatype.BYTES) {
      return decodeBytes(bytes, count, label);
    }
    BigInteger expected = BigInteger.valueOf(count).multiply(BigInteger.valueOf(type.size));
    if (!expected.equals(BigInteger.valueOf(bytes.size()))) {
      throw new InvalidInputException(
          label
              + " has "
              + bytes.size()
              + " bytes of raw_input_contents but "
              + count
              + " elements of "
              + type
              + " take "
              + expected
              + " ("
              + type.size
              + " bytes each, little-endian)");
    }
    ByteBuffer in = bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    ArrayNode out = JsonNodeFactory.instance.arrayNode((int) count);
    for (long i = 0; i < count; i++) {
      switch (type) {
        case BOOL -> out.add(in.get() != 0);
        case INT8 -> out.add(in.get());
        case UINT8 -> out.add(in.get() & 0xff);
        case INT16 -> out.add(in.getShort());
        case UINT16 -> out.add(in.getShort() & 0xffff);
        case INT32 -> out.add(in.getInt());
        case UINT32 -> out.add(Integer.toUnsignedLong(in.getInt()));
        case INT64 -> out.add(in.getLong());
        case UINT64 -> out.add(unsigned(in.getLong()));
        case FP16 -> out.add(halfToFloat(in.getShort()));
        case BF16 -> out.add(Float.intBitsToFloat((in.getShort() & 0xffff) << 16));
        case FP32 -> out.add(in.getFloat());
        case FP64 -> out.add(in.getDouble());
        case BYTES -> throw new AssertionError("BYTES is decoded above");
      }
    }
    return out;
  }

  private static ArrayNode decodeBytes(ByteString bytes, long count, String label) {
    ByteBuffer in = bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    ArrayNode out = JsonNodeFactory.instance.arrayNode();
    while (in.hasRemaining()) {
      if (in.remaining() < 4) {
        throw new InvalidInputException(
            label
                + " ends inside the 4-byte length of BYTES element "
                + out.size()
                + " of raw_input_contents");
      }
      long length = Integer.toUnsignedLong(in.getInt());
      if (length > in.remaining()) {
        throw new InvalidInputException(
            label
                + " BYTES element "
                + out.size()
                + " says it has "
                + length
                + " bytes but only "
                + in.remaining()
                + " are left in raw_input_contents");
      }
      byte[] element = new byte[(int) length];
      in.get(element);
      out.add(TypedTensors.utf8(element, label, out.size()));
    }
    if (out.size() != count) {
      throw new InvalidInputException(
          label
              + " has "
              + out.size()
              + " BYTES elements in raw_input_contents but its shape needs "
              + count);
    }
    return out;
  }

  /** The flat JSON data of an output tensor in raw form. */
  static ByteString encode(Datatype type, JsonNode data) {
    if (type == Datatype.BYTES) {
      ByteString.Output out = ByteString.newOutput();
      ByteBuffer length = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      try {
        for (JsonNode element : data) {
          byte[] text = element.asText().getBytes(StandardCharsets.UTF_8);
          out.write(length.putInt(0, text.length).array());
          out.write(text);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e); // ByteString.Output is in memory: never thrown
      }
      return out.toByteString();
    }
    ByteBuffer out = ByteBuffer.allocate(data.size() * type.size).order(ByteOrder.LITTLE_ENDIAN);
    for (JsonNode v : data) {
      switch (type) {
        case BOOL -> out.put((byte) (v.asBoolean() ? 1 : 0));
        case INT8, UINT8 -> out.put((byte) v.asLong());
        case INT16, UINT16 -> out.putShort((short) v.asLong());
        case INT32, UINT32 -> out.putInt((int) v.asLong());
        case INT64, UINT64 -> out.putLong(v.bigIntegerValue().longValue());
        case FP32 -> out.putFloat(v.floatValue());
        case FP64 -> out.putDouble(v.doubleValue());
        case FP16, BF16, BYTES ->
            throw new IllegalStateException("no model answers " + type + " (a bug)");
      }
    }
    return ByteString.copyFrom(out.flip());
  }

  /** An unsigned 64-bit value: a long while it fits, else a big integer. */
  private static JsonNode unsigned(long bits) {
    JsonNodeFactory f = JsonNodeFactory.instance;
    return bits >= 0
        ? f.numberNode(bits)
        : f.numberNode(new BigInteger(Long.toUnsignedString(bits)));
  }

  /** IEEE 754 half precision to float (Java 17 has no Float.float16ToFloat). */
  static float halfToFloat(short half) {
    int bits = half & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exponent = (bits >>> 10) & 0x1f;
    int mantissa = bits & 0x3ff;
    if (exponent == 0x1f) { // infinity or NaN
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) { // zero or subnormal: mantissa * 2^-24
      float value = mantissa * 0x1p-24f;
      return sign == 0 ? value : -value;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
}
