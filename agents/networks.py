"""Network size presets: the same agent at several sizes, for scale experiments."""

from __future__ import annotations

__all__ = ["MLP_SIZES", "mlp_layers"]

#: Hidden layer widths of the MLP policy and value networks, by preset name.
MLP_SIZES: dict[str, tuple[int, ...]] = {
    "tiny": (16, 16),
    "small": (64, 64),
    "base": (256, 256),
    "large": (512, 512, 512),
}


def mlp_layers(size: str, layers: list[int] | None = None) -> list[int]:
    """Hidden layer widths for preset ``size``, or ``layers`` when given explicitly.

    Example:
        >>> mlp_layers("small"), mlp_layers("small", [8])
        ([64, 64], [8])
    """
    if layers:
        if not all(isinstance(w, int) and w > 0 for w in layers):
            raise ValueError(f"agent.layers={layers!r}; accepted: a list of positive integers")
        return list(layers)
    if size not in MLP_SIZES:
        raise ValueError(
            f"unknown network size {size!r}; accepted: {', '.join(MLP_SIZES)} "
            "(or agent.layers=[w1,w2,...])"
        )
    return list(MLP_SIZES[size])
