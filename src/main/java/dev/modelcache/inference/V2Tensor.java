package dev.modelcache.inference;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One tensor of an Open Inference Protocol v2 request or response: {@code {name, shape, datatype,
 * data}}.
 *
 * @param name the tensor's name
 * @param shape its dimensions (-1 for a variable one only in a {@link Spec})
 * @param datatype one of the protocol's names: {@code BOOL}, {@code INT32}, {@code INT64}, {@code
 *     FP32}, {@code FP64}, {@code BYTES} (strings), ...
 * @param data a flat JSON array in row-major order
 */
public record V2Tensor(String name, long[] shape, String datatype, JsonNode data) {

  /**
   * What a model's metadata says of one input or output.
   *
   * @param shape -1 marks a variable dimension
   */
  public record Spec(String name, String datatype, long[] shape) {}
}
