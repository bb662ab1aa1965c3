"""Generation backends (transformers, optional vLLM) and the decoding settings they share."""
