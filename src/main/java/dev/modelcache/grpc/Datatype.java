package dev.modelcache.grpc;

import dev.modelcache.inference.InvalidInputException;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The tensor datatypes of the Open Inference Protocol, with the bytes one element takes in {@code
 * raw_input_contents} / {@code raw_output_contents} (little-endian, row-major; {@code BYTES}
 * elements are each a 4-byte little-endian length and that many bytes).
 */
enum Datatype {
  BOOL(1),
  UINT8(1),
  UINT16(2),
  UINT32(4),
  UINT64(8),
  INT8(1),
  INT16(2),
  INT32(4),
  INT64(8),
  FP16(2),
  BF16(2),
  FP32(4),
  FP64(8),
  BYTES(0);

  private static final String NAMES =
      Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));

  /** Bytes per element in raw form; 0 for {@code BYTES}, whose elements carry their length. */
  final int size;

  Datatype(int size) {
    this.size = size;
  }

  /** The datatype named {@code name}, or an error naming {@code label} and the known ones. */
  static Datatype of(String name, String label) {
    for (Datatype type : values()) {
      if (type.name().equals(name)) {
        return type;
      }
    }
    throw new InvalidInputException(
        label
            + " has datatype '"
            + (name.length() <= 32 ? name : name.substring(0, 32) + "...")
            + "'; the protocol's datatypes are "
            + NAMES);
  }

  /** The field of {@code InferTensorContents} that holds this datatype, or null (FP16, BF16). */
  @Nullable String contentsField() {
    return switch (this) {
      case BOOL -> "bool_contents";
      case INT8, INT16, INT32 -> "int_contents";
      case INT64 -> "int64_contents";
      case UINT8, UINT16, UINT32 -> "uint_contents";
      case UINT64 -> "uint64_contents";
      case FP32 -> "fp32_contents";
      case FP64 -> "fp64_contents";
      case BYTES -> "bytes_contents";
      case FP16, BF16 -> null;
    };
  }
}
