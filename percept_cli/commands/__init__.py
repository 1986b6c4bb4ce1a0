"""One module per command group; each defines ``register(app)``.

Every command module is imported for ``percept --help``, so each imports torch, ONNX, the inference runtimes
and the modules that need them inside its commands, never at module level: help, ``percept models`` and usage
errors answer at once (tests/test_startup.py, benchmarks/startup.py)."""
