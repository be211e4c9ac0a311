package dev.modelcache.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.google.protobuf.ByteString;
import dev.modelcache.grpc.proto.InferTensorContents;
import dev.modelcache.inference.InvalidInputException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tensor data in the typed form of {@code InferTensorContents}: one repeated field per family of
 * datatypes ({@code fp32_contents} for FP32, {@code int_contents} for INT8 to INT32, ...).
 */
final class TypedTensors {
  private TypedTensors() {}

  /**
   * The {@code count} elements of {@code contents} for {@code type} as a flat JSON array, or an
   * error naming {@code label} when they are not where the datatype puts them or too few or many.
   */
  static ArrayNode decode(Datatype type, InferTensorContents contents, long count, String label) {
    String field = type.contentsField();
    if (field == null) {
      throw new InvalidInputException(
          label + " is " + type + ", which has no typed contents: send it in raw_input_contents");
    }
    List<?> values = java.util.Objects.requireNonNull(values(contents).get(field), field);
    if (values.size() != count) {
      throw new InvalidInputException(
          label
              + " ("
              + type
              + ") has "
              + values.size()
              + " values in contents."
              + field
              + " but its shape needs "
              + count
              + elsewhere(contents, field));
    }
    ArrayNode out = JsonNodeFactory.instance.arrayNode(values.size());
    for (int i = 0; i < values.size(); i++) {
      Object v = values.get(i);
      switch (type) {
        case BOOL -> out.add((Boolean) v);
        case INT8, INT16, INT32 -> out.add((Integer) v);
        case INT64 -> out.add((Long) v);
        case UINT8, UINT16, UINT32 -> out.add(Integer.toUnsignedLong((Integer) v));
        case UINT64 -> out.add(new java.math.BigInteger(Long.toUnsignedString((Long) v)));
        case FP32 -> out.add((Float) v);
        case FP64 -> out.add((Double) v);
        case BYTES -> out.add(utf8(((ByteString) v).toByteArray(), label, i));
        case FP16, BF16 -> throw new AssertionError(type + " has no typed contents");
      }
    }
    return out;
  }

  /** Where the values are when they are in another field than the datatype's. */
  private static String elsewhere(InferTensorContents contents, String field) {
    for (Map.Entry<String, List<?>> other : values(contents).entrySet()) {
      if (!other.getKey().equals(field) && !other.getValue().isEmpty()) {
        return " (it has "
            + other.getValue().size()
            + " in contents."
            + other.getKey()
            + ": the datatype decides the field)";
      }
    }
    return "";
  }

  private static Map<String, List<?>> values(InferTensorContents contents) {
    Map<String, List<?>> fields = new LinkedHashMap<>();
    fields.put("bool_contents", contents.getBoolContentsList());
    fields.put("int_contents", contents.getIntContentsList());
    fields.put("int64_contents", contents.getInt64ContentsList());
    fields.put("uint_contents", contents.getUintContentsList());
    fields.put("uint64_contents", contents.getUint64ContentsList());
    fields.put("fp32_contents", contents.getFp32ContentsList());
    fields.put("fp64_contents", contents.getFp64ContentsList());
    fields.put("bytes_contents", contents.getBytesContentsList());
    return fields;
  }

  /** The flat JSON data of an output tensor as typed contents. */
  static InferTensorContents encode(Datatype type, JsonNode data) {
    InferTensorContents.Builder out = InferTensorContents.newBuilder();
    for (JsonNode v : data) {
      switch (type) {
        case BOOL -> out.addBoolContents(v.asBoolean());
        case INT8, INT16, INT32 -> out.addIntContents(v.intValue());
        case INT64 -> out.addInt64Contents(v.longValue());
        case UINT8, UINT16, UINT32 -> out.addUintContents((int) v.longValue());
        case UINT64 -> out.addUint64Contents(v.bigIntegerValue().longValue());
        case FP32 -> out.addFp32Contents(v.floatValue());
        case FP64 -> out.addFp64Contents(v.doubleValue());
        case BYTES -> out.addBytesContents(ByteString.copyFromUtf8(v.asText()));
        case FP16, BF16 -> throw new IllegalStateException("no model answers " + type + " (a bug)");
      }
    }
    return out.build();
  }

  /** A BYTES element as text (the text tasks take strings), or an error when it is not UTF-8. */
  static String utf8(byte[] bytes, String label, int index) {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new InvalidInputException(
          label + " BYTES element " + index + " is not UTF-8 text (" + bytes.length + " bytes)");
    }
  }
}
