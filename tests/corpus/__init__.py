"""A corpus of small TensorFlow networks written the way NCS users wrote
them in 2017-2018 (TF 1.x idioms), built with TF 2.21 in graph mode.

``nets`` holds one function per network: it builds the net in the current
default graph and returns (input tensor name, output tensor name, idioms).
``harness`` saves each as ``.meta`` + checkpoint and as a frozen ``.pb``,
computes TensorFlow's own output, compiles both files and runs them on the
emulated stick. ``python -m tests.corpus.report`` prints the corpus table.
"""
