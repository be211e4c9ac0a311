package dev.modelcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.google.protobuf.ByteString;
import dev.modelcache.grpc.proto.InferTensorContents;
import dev.modelcache.grpc.proto.ModelInferRequest;
import dev.modelcache.grpc.proto.ModelInferRequest.InferInputTensor;
import dev.modelcache.grpc.proto.ModelInferResponse;
import dev.modelcache.inference.InvalidInputException;
import dev.modelcache.inference.ModelRegistry.V2Answer;
import dev.modelcache.inference.V2Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Typed and raw tensors of every datatype to the JSON data the tasks read, and back. */
class InferMessagesTest {
  private static ByteString le(int bytes, java.util.function.Consumer<ByteBuffer> fill) {
    ByteBuffer buffer = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    fill.accept(buffer);
    return ByteString.copyFrom(buffer.flip());
  }

  private static String decodeRaw(String datatype, long count, ByteString bytes) {
    return RawTensors.decode(Datatype.of(datatype, "x"), bytes, count, "input 'x'").toString();
  }

  @Test
  void rawElementsOfEveryDatatypeAreLittleEndian() {
    assertThat(decodeRaw("BOOL", 3, ByteString.copyFrom(new byte[] {0, 1, 2})))
        .isEqualTo("[false,true,true]");
    assertThat(decodeRaw("INT8", 2, ByteString.copyFrom(new byte[] {-1, 127})))
        .isEqualTo("[-1,127]");
    assertThat(decodeRaw("UINT8", 1, ByteString.copyFrom(new byte[] {-1}))).isEqualTo("[255]");
    assertThat(decodeRaw("INT16", 1, le(2, b -> b.putShort((short) -2)))).isEqualTo("[-2]");
    assertThat(decodeRaw("UINT16", 1, le(2, b -> b.putShort((short) -1)))).isEqualTo("[65535]");
    assertThat(decodeRaw("INT32", 1, le(4, b -> b.putInt(-7)))).isEqualTo("[-7]");
    assertThat(decodeRaw("UINT32", 1, le(4, b -> b.putInt(-1)))).isEqualTo("[4294967295]");
    assertThat(decodeRaw("INT64", 1, le(8, b -> b.putLong(Long.MIN_VALUE))))
        .isEqualTo("[" + Long.MIN_VALUE + "]");
    assertThat(decodeRaw("UINT64", 1, le(8, b -> b.putLong(-1))))
        .isEqualTo("[18446744073709551615]");
    assertThat(decodeRaw("FP32", 2, le(8, b -> b.putFloat(1.5f).putFloat(-0.25f))))
        .isEqualTo("[1.5,-0.25]");
    assertThat(decodeRaw("FP64", 1, le(8, b -> b.putDouble(0.1)))).isEqualTo("[0.1]");
    // 0x3c00 = 1.0, 0xc000 = -2.0, 0x0001 = the smallest subnormal, 0x7c00 = infinity
    assertThat(
            decodeRaw(
                "FP16",
                4,
                le(
                    8,
                    b ->
                        b.putShort((short) 0x3c00)
                            .putShort((short) 0xc000)
                            .putShort((short) 0x0001)
                            .putShort((short) 0x7c00))))
        .isEqualTo("[1.0,-2.0,5.9604645E-8,\"Infinity\"]"); // Jackson's text for infinity
    assertThat(decodeRaw("BF16", 1, le(2, b -> b.putShort((short) 0x3fc0)))).isEqualTo("[1.5]");
  }

  @Test
  void rawBytesElementsCarryTheirLength() {
    byte[] hello = "héllo".getBytes(StandardCharsets.UTF_8);
    ByteString bytes = le(8 + hello.length, b -> b.putInt(hello.length).put(hello).putInt(0));
    assertThat(decodeRaw("BYTES", 2, bytes)).isEqualTo("[\"héllo\",\"\"]");
    assertThatThrownBy(() -> decodeRaw("BYTES", 1, le(5, b -> b.putInt(9).put((byte) 1))))
        .isInstanceOf(InvalidInputException.class)
        .hasMessage(
            "input 'x' BYTES element 0 says it has 9 bytes but only 1 are left in"
                + " raw_input_contents");
    assertThatThrownBy(() -> decodeRaw("BYTES", 1, ByteString.copyFrom(new byte[] {1, 0})))
        .hasMessage(
            "input 'x' ends inside the 4-byte length of BYTES element 0 of raw_input_contents");
    assertThatThrownBy(() -> decodeRaw("BYTES", 1, le(5, b -> b.putInt(1).put((byte) 0xff))))
        .hasMessage("input 'x' BYTES element 0 is not UTF-8 text (1 bytes)");
    ArrayNode texts = JsonNodeFactory.instance.arrayNode().add("héllo").add("");
    assertThat(RawTensors.encode(Datatype.BYTES, texts)).isEqualTo(bytes);
  }

  @Test
  void typedContentsTakeTheFieldOfTheirDatatype() {
    InferTensorContents contents =
        InferTensorContents.newBuilder()
            .addUintContents(-1)
            .addUint64Contents(-1L)
            .addBytesContents(ByteString.copyFromUtf8("a"))
            .build();
    assertThat(TypedTensors.decode(Datatype.UINT32, contents, 1, "x").toString())
        .isEqualTo("[4294967295]");
    assertThat(TypedTensors.decode(Datatype.UINT64, contents, 1, "x").toString())
        .isEqualTo("[18446744073709551615]");
    assertThat(TypedTensors.decode(Datatype.BYTES, contents, 1, "x").toString())
        .isEqualTo("[\"a\"]");
    assertThatThrownBy(() -> TypedTensors.decode(Datatype.FP16, contents, 1, "input 'h'"))
        .hasMessage(
            "input 'h' is FP16, which has no typed contents: send it in raw_input_contents");
  }

  @Test
  void shapesMustBeWholeAndSmallEnough() {
    ModelInferRequest.Builder request =
        ModelInferRequest.newBuilder()
            .addInputs(InferInputTensor.newBuilder().setName("a").setDatatype("FP32").addShape(-1));
    assertThatThrownBy(() -> InferMessages.inputs(request.build()))
        .hasMessage("input 'a' shape[0] is -1; dimensions are whole numbers >= 0");
    request.setInputs(
        0,
        InferInputTensor.newBuilder()
            .setName("a")
            .setDatatype("FP32")
            .addShape(Long.MAX_VALUE)
            .addShape(4));
    assertThatThrownBy(() -> InferMessages.inputs(request.build()))
        .hasMessage("input 'a' has a shape with too many elements");
    ModelInferRequest twice =
        ModelInferRequest.newBuilder()
            .addInputs(InferInputTensor.newBuilder().setName("a").setDatatype("BOOL").addShape(0))
            .addInputs(InferInputTensor.newBuilder().setName("a").setDatatype("BOOL").addShape(0))
            .build();
    assertThatThrownBy(() -> InferMessages.inputs(twice)).hasMessage("input 'a' is given twice");
  }

  @Test
  void answersComeRawOnlyWhenTheRequestWasRaw() {
    V2Tensor out =
        new V2Tensor(
            "y", new long[] {2}, "INT64", JsonNodeFactory.instance.arrayNode().add(3).add(-4));
    V2Answer answer = new V2Answer("rev", List.of(out));
    ModelInferRequest typed = ModelInferRequest.newBuilder().setId("i").build();
    ModelInferResponse typedAnswer = InferMessages.response("m", typed, answer);
    assertThat(typedAnswer.getOutputs(0).getContents().getInt64ContentsList())
        .containsExactly(3L, -4L);
    assertThat(typedAnswer.getId()).isEqualTo("i");
    assertThat(typedAnswer.getModelVersion()).isEqualTo("rev");
    ModelInferRequest raw =
        ModelInferRequest.newBuilder().addRawInputContents(ByteString.EMPTY).build();
    ModelInferResponse rawAnswer = InferMessages.response("m", raw, answer);
    assertThat(rawAnswer.getOutputs(0).hasContents()).isFalse();
    assertThat(rawAnswer.getRawOutputContents(0)).isEqualTo(le(16, b -> b.putLong(3).putLong(-4)));
  }
}
