package dev.modelcache.inference;

/**
 * Where a model is in its life: PENDING -> FETCHING -> VERIFYING -> LOADING -> READY, or FAILED
 * with a reason.
 */
public enum ModelState {
  PENDING,
  FETCHING,
  VERIFYING,
  LOADING,
  READY,
  FAILED
}
