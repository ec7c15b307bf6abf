"""Convolution, pooling and reshape kinds against independent numpy references (naive loops
over small sizes), and their gradients against finite differences."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rpgraph.modules import KINDS, KindConfig
from rpgraph.modules.conv import pads

RNG = np.random.default_rng(0)


def conf(name: str, shape_in: tuple[int, ...], **values: Any) -> KindConfig:
    return KINDS[name].configure(values, dt=1e-3, shape_in=shape_in)


def ref_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, ...],
             pad: tuple[tuple[int, int], ...], dil: tuple[int, ...], groups: int
             ) -> np.ndarray:
    """Cross-correlation of ``x`` (N, C, *S) with ``w`` (O, C / g, *K), one output element
    at a time (PyTorch's definition)."""
    n, c = x.shape[:2]
    dims = x.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0), *pad))
    o, cg = w.shape[:2]
    k = w.shape[2:]
    out_sp = [(xp.shape[2 + i] - dil[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(dims)]
    y = np.zeros((n, o, *out_sp))
    og = o // groups
    for bi in range(n):
        for oc in range(o):
            g = oc // og
            for pos in np.ndindex(*out_sp):
                acc = 0.0
                for ic in range(cg):
                    for kk in np.ndindex(*k):
                        idx = tuple(pos[i] * stride[i] + kk[i] * dil[i] for i in range(dims))
                        acc += xp[(bi, g * cg + ic, *idx)] * w[(oc, ic, *kk)]
                y[(bi, oc, *pos)] = acc + (0.0 if b is None else b[oc])
    return y


def ref_pool(x: np.ndarray, k: tuple[int, ...], s: tuple[int, ...],
             pad: tuple[tuple[int, int], ...], average: bool) -> np.ndarray:
    dims = x.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0), *pad))
    out_sp = [(xp.shape[2 + i] - k[i]) // s[i] + 1 for i in range(dims)]
    y = np.zeros((*x.shape[:2], *out_sp))
    for pos in np.ndindex(*out_sp):
        sl = tuple(slice(pos[i] * s[i], pos[i] * s[i] + k[i]) for i in range(dims))
        win = xp[(slice(None), slice(None), *sl)]
        y[(slice(None), slice(None), *pos)] = win.sum(axis=tuple(range(2, 2 + dims)))
    return y / np.prod(k) if average else y


CONVS = [
    # kind, input shape, arguments
    ("conv2d", (2, 6, 5), dict(out_channels=3, kernel=3)),
    ("conv2d", (2, 7, 7), dict(out_channels=4, kernel=(3, 2), stride=(2, 1), padding=(1, 2),
                               bias=True)),
    ("conv2d", (4, 6, 6), dict(out_channels=2, kernel=3, dilation=2, groups=2, padding=1)),
    ("conv2d", (1, 5, 6), dict(out_channels=2, kernel=(2, 3), padding="same", bias=True)),
    ("conv2d", (1, 7, 7), dict(out_channels=1, kernel=3, stride=2, padding="same")),
    ("conv1d", (3, 9), dict(out_channels=2, kernel=4, stride=2, padding=1, bias=True)),
    ("conv1d", (2, 8), dict(out_channels=4, kernel=3, groups=2, dilation=2)),
]


def _params(name: str, cfg: KindConfig) -> dict[str, np.ndarray]:
    kind = KINDS[name]
    n = int(np.prod(cfg.shape_in))
    specs = kind.params(n, kind.size_out(n, cfg), cfg)
    return {k: RNG.normal(size=ps.shape).astype(np.float32) for k, ps in specs.items()}


@pytest.mark.parametrize("name, shape, values", CONVS)
def test_conv_matches_numpy(name: str, shape: tuple[int, ...], values: dict[str, Any]) -> None:
    kind = KINDS[name]
    cfg = conf(name, shape, **values)
    assert kind.shape_in_rule(shape, cfg) is None
    p = _params(name, cfg)
    assert p["weight"].shape[:2] == (values["out_channels"],
                                     shape[0] // values.get("groups", 1))
    B, T = 2, 3
    x = RNG.normal(size=(B, T, int(np.prod(shape)))).astype(np.float32)
    y = np.asarray(kind.apply(p, jnp.asarray(x), cfg))
    dims = len(shape) - 1
    per = lambda v, d=1: (v,) * dims if isinstance(v, int) else (v or (d,) * dims)  # noqa: E731
    pad = pads(shape[1:], values["kernel"], values.get("stride", 1), values.get("padding", 0),
               values.get("dilation", 1))
    ref = ref_conv(x.reshape(B * T, *shape).astype(np.float64), p["weight"], p.get("bias"),
                   per(values.get("stride", 1)), pad, per(values.get("dilation", 1)),
                   values.get("groups", 1))
    out_shape = kind.shape_out(shape, cfg)
    assert ref.shape[1:] == out_shape
    np.testing.assert_allclose(y, ref.reshape(B, T, -1), rtol=1e-4, atol=1e-4)


def test_same_padding_keeps_size_at_stride_one() -> None:
    cfg = conf("conv2d", (1, 5, 6), out_channels=2, kernel=(2, 3), padding="same")
    assert KINDS["conv2d"].shape_out((1, 5, 6), cfg) == (2, 5, 6)
    assert pads((5, 6), (2, 3), 1, "same") == ((0, 1), (1, 1))  # the odd one at the end


POOLS = [
    ("sumpool2d", (3, 6, 6), dict(kernel=2), False),
    ("avgpool2d", (2, 7, 5), dict(kernel=(3, 2), stride=(2, 1), padding=1), True),
    ("sumpool1d", (2, 9), dict(kernel=3, stride=2), False),
    ("avgpool1d", (2, 8), dict(kernel=4), True),
]


@pytest.mark.parametrize("name, shape, values, average", POOLS)
def test_pool_matches_numpy(name: str, shape: tuple[int, ...], values: dict[str, Any],
                            average: bool) -> None:
    kind = KINDS[name]
    cfg = conf(name, shape, **values)
    assert kind.shape_in_rule(shape, cfg) is None
    x = RNG.normal(size=(2, 3, int(np.prod(shape)))).astype(np.float32)
    y = np.asarray(kind.apply({}, jnp.asarray(x), cfg))
    dims = len(shape) - 1
    k = values["kernel"]
    k = (k,) * dims if isinstance(k, int) else k
    s = values.get("stride", k)
    s = (s,) * dims if isinstance(s, int) else s
    pad = pads(shape[1:], k, s, values.get("padding", 0))
    ref = ref_pool(x.reshape(6, *shape).astype(np.float64), k, s, pad, average)
    assert ref.shape[1:] == kind.shape_out(shape, cfg)
    np.testing.assert_allclose(y, ref.reshape(2, 3, -1), rtol=1e-5, atol=1e-5)


def test_flatten_is_channel_major_like_pytorch() -> None:
    """Activity is stored flattened channel-major: flatten and unflatten move no data."""
    x = np.arange(24, dtype=np.float32).reshape(1, 1, 24)
    cfg = conf("flatten", (2, 3, 4))
    assert KINDS["flatten"].shape_out((2, 3, 4), cfg) == (24,)
    np.testing.assert_array_equal(KINDS["flatten"].apply({}, x, cfg), x)
    ucfg = conf("unflatten", (24,), shape=(2, 3, 4))
    assert KINDS["unflatten"].shape_out((24,), ucfg) == (2, 3, 4)
    assert KINDS["unflatten"].shape_in_rule((25,), ucfg) == (
        "cannot unflatten 25 elements into shape (2, 3, 4) (24 elements)")


@pytest.mark.parametrize("name, shape, values", [CONVS[1], CONVS[2], CONVS[5]])
def test_conv_gradient_matches_finite_differences(name: str, shape: tuple[int, ...],
                                                  values: dict[str, Any]) -> None:
    kind = KINDS[name]
    cfg = conf(name, shape, **values)
    p = {k: v.astype(np.float64) for k, v in _params(name, cfg).items()}
    x = RNG.normal(size=(1, 2, int(np.prod(shape))))
    r = RNG.normal(size=(1, 2, int(np.prod(kind.shape_out(shape, cfg)))))

    def loss(p: dict[str, Any], x: Any) -> Any:
        return jnp.sum(jnp.tanh(kind.apply(p, x, cfg)) * r)

    with jax.enable_x64(True):
        gp, gx = jax.grad(loss, argnums=(0, 1))(p, jnp.asarray(x))
        eps = 1e-6

        def moved(key: str, arr: np.ndarray, i: int, d: float) -> float:
            a = arr.reshape(-1).copy()
            a[i] += d
            if key == "x":
                return float(loss(p, jnp.asarray(a.reshape(arr.shape))))
            return float(loss({**p, key: a.reshape(arr.shape)}, jnp.asarray(x)))

        for key, arr in [*p.items(), ("x", x)]:
            g = np.asarray(gx if key == "x" else gp[key]).reshape(-1)
            for i in RNG.choice(arr.size, size=min(6, arr.size), replace=False):
                fd = (moved(key, arr, i, eps) - moved(key, arr, i, -eps)) / (2 * eps)
                np.testing.assert_allclose(g[i], fd, rtol=1e-5, atol=1e-7, err_msg=key)


@pytest.mark.parametrize("name, shape, values, message", [
    ("conv2d", (2, 4, 4), dict(out_channels=3, kernel=5),
     "kernel 5 is larger than the padded input (4, 4) (padding 0)"),
    ("conv2d", (2, 4, 4), dict(out_channels=3, kernel=3, dilation=2),
     "kernel 3 (dilated: 5) is larger than the padded input (4, 4) (padding 0)"),
    ("conv2d", (2, 8, 8), dict(out_channels=3, kernel=3, stride=0),
     "Expected stride >= 1, got 0"),
    ("conv2d", (2, 8, 8), dict(out_channels=3, kernel=(0, 2)),
     "Expected kernel >= 1, got (0, 2)"),
    ("conv2d", (3, 8, 8), dict(out_channels=4, kernel=3, groups=2),
     "groups = 2 must divide the input channels (3) and out_channels (4)"),
    ("conv2d", (64,), dict(out_channels=4, kernel=3),
     "conv2d needs a (channels, height, width) input, got shape (64,)"),
    ("conv1d", (2, 8), dict(out_channels=4, kernel=(3, 3)),
     "kernel (3, 3) has 2 values for 1 spatial axis"),
    ("sumpool2d", (2, 3, 3), dict(kernel=4), "kernel 4 is larger than the padded input (3, 3) "
     "(padding 0)"),
    ("avgpool1d", (2, 8), dict(kernel=2, padding=-1), "Expected padding >= 0, got -1"),
])
def test_window_rules(name: str, shape: tuple[int, ...], values: dict[str, Any],
                      message: str) -> None:
    assert KINDS[name].shape_in_rule(shape, conf(name, shape, **values)) == message
