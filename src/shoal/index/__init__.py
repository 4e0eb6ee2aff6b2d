"""Vector indexes (exact search lives in shoal.engine.search until the ANN index lands)."""
