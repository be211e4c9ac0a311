package dev.modelcache.inference.task;

/**
 * One label of a classification answer.
 *
 * @param index the class index in the model's output
 * @param score its score (a probability after softmax or sigmoid)
 */
record Prediction(String label, int index, float score) {}
