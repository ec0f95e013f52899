"""twml.tensorboard: ``python -m twml.tensorboard --logdir=DIR [--port=N]`` starts TensorBoard.

The package itself has no names; the launcher is :mod:`twml.tensorboard.__main__`.
"""
