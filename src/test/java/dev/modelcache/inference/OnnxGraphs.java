package dev.modelcache.inference;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tiny ONNX models written byte by byte (the protobuf of {@code onnx.proto}: ModelProto,
 * GraphProto, NodeProto, ValueInfoProto), for models no committed file has: one float input {@code
 * x} of shape [N, 4] and one output {@code y} of the same shape, through a chain of nodes. No
 * Python needed.
 *
 * <pre>{@code
 * OnnxGraphs.write(dir.resolve("model.onnx"), OnnxGraphs.DYNAMIC_QUANTIZE);
 * }</pre>
 */
public final class OnnxGraphs {
  /** A node: operator, inputs, outputs. */
  public record Node(String op, List<String> inputs, List<String> outputs) {}

  /**
   * y = dequantize(quantize(x)) with one uint8 scale over the whole batch: what a dynamically
   * quantised int8 model does to its activations, so batching changes each row's answer.
   */
  public static final List<Node> DYNAMIC_QUANTIZE =
      List.of(
          new Node("DynamicQuantizeLinear", List.of("x"), List.of("q", "scale", "zero")),
          new Node("DequantizeLinear", List.of("q", "scale", "zero"), List.of("y")));

  /** y = x - mean(x over the whole batch): batch-dependent without any quantisation. */
  public static final List<Node> BATCH_CENTRED =
      List.of(
          new Node("ReduceMean", List.of("x"), List.of("mean")),
          new Node("Sub", List.of("x", "mean"), List.of("y")));

  /** y = |x|: each row on its own, batching changes nothing. */
  public static final List<Node> ROW_WISE = List.of(new Node("Abs", List.of("x"), List.of("y")));

  /** The config.json that declares the input, so that the tensor task can make probe items. */
  public static final String CONFIG_JSON =
      "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [4]}],"
          + " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [4]}]}\n";

  private OnnxGraphs() {}

  /** Writes {@code model.onnx} and {@code config.json} of the graph into {@code dir}. */
  public static Path model(Path dir, List<Node> nodes) {
    try {
      Files.createDirectories(dir);
      Files.write(dir.resolve("model.onnx"), bytes(nodes));
      Files.writeString(dir.resolve("config.json"), CONFIG_JSON);
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The ModelProto: IR version 7, opset 13. */
  static byte[] bytes(List<Node> nodes) {
    Proto graph = new Proto();
    for (Node node : nodes) {
      Proto n = new Proto();
      node.inputs().forEach(i -> n.string(1, i));
      node.outputs().forEach(o -> n.string(2, o));
      n.string(3, node.op().toLowerCase(java.util.Locale.ROOT));
      n.string(4, node.op());
      graph.message(1, n);
    }
    graph.string(2, "modelcache-test");
    graph.message(11, valueInfo("x"));
    graph.message(12, valueInfo("y"));
    Proto model = new Proto();
    model.varint(1, 7); // ir_version
    model.string(2, "modelcache-test"); // producer_name
    model.message(7, graph);
    model.message(8, new Proto().string(1, "").varint(2, 13)); // opset_import
    return model.bytes();
  }

  /** A float tensor named {@code name} of shape [N, 4]. */
  private static Proto valueInfo(String name) {
    Proto shape =
        new Proto().message(1, new Proto().string(2, "N")).message(1, new Proto().varint(1, 4));
    Proto tensor = new Proto().varint(1, 1).message(2, shape); // elem_type FLOAT
    return new Proto().string(1, name).message(2, new Proto().message(1, tensor));
  }

  /** A protobuf message being written: fields in order, wire types 0 (varint) and 2 (bytes). */
  private static final class Proto {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Proto varint(int field, long value) {
      raw((field << 3) | 0);
      raw(value);
      return this;
    }

    Proto string(int field, String value) {
      return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    Proto message(int field, Proto message) {
      return bytes(field, message.bytes());
    }

    private Proto bytes(int field, byte[] value) {
      raw((field << 3) | 2);
      raw(value.length);
      out.writeBytes(value);
      return this;
    }

    private void raw(long value) {
      while ((value & ~0x7FL) != 0) {
        out.write((int) ((value & 0x7F) | 0x80));
        value >>>= 7;
      }
      out.write((int) value);
    }

    byte[] bytes() {
      return out.toByteArray();
    }
  }
}
