"""Graph passes, each a small function ir.Graph -> ir.Graph.

PIPELINE is the order the compiler runs them in. Every pass works on a copy,
so a caller's graph is never changed.
"""
from .activation import fuse_activations
from .batchnorm import fold_batchnorm
from .bias import fuse_bias
from .cleanup import remove_dead, remove_identities
from .concat import place_concats
from .pad import fold_pad
from .scale import fold_scale, fold_scale_forward
from .slices import place_slices

PIPELINE = [
    remove_identities,
    fold_pad,
    fold_batchnorm,
    fuse_bias,
    fold_scale,
    fuse_bias,          # a bias_add after a folded scale
    fold_scale_forward,
    fuse_activations,
    place_slices,
    place_concats,
]


def run_all(graph, passes=PIPELINE):
    for p in passes:
        graph = p(graph)
    return graph


__all__ = ["PIPELINE", "run_all", "remove_identities", "remove_dead",
           "fold_pad", "fold_batchnorm", "fuse_bias", "fold_scale",
           "fold_scale_forward", "fuse_activations", "place_slices",
           "place_concats"]
