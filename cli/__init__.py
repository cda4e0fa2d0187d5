"""torchdeck's command-line front ends: the ``torchdeck`` dispatcher (``cli.main``), the headless
``train`` and ``sample`` commands (``cli.headless``) and ``torchdeck inspect`` (``cli.inspect``).

``cli.main`` and ``cli.headless`` import no torch (they drive the engine process through
``core.client``, as the app does); ``cli.inspect`` builds a model in-process and so loads it.
"""
