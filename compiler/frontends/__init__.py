"""Frontends: one per input file type, registered by file suffix.

A frontend is ``load(network_path, weights_path, options) -> ir.Graph``.
``compiler.compile_file`` picks one from SUFFIXES; another frontend (Caffe
``.prototxt``, TF ``.meta``) registers itself with ``register``.
"""
import importlib

# suffix -> "module:function", imported only when used (keeps startup cheap).
SUFFIXES = {
    ".pb": "compiler.frontends.tf_graphdef:load",
    ".prototxt": "compiler.frontends.caffe:load",
    ".meta": "compiler.frontends.tf_meta:load",
}


def register(suffix, target):
    SUFFIXES[suffix.lower()] = target


def loader_for(suffix):
    target = SUFFIXES.get(suffix.lower())
    if target is None:
        return None
    if callable(target):
        return target
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)
