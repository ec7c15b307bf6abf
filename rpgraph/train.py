"""Training: one jitted, fused optax program per chunk of steps.

``fit`` resolves the spec's ``train { }`` block (flags and keyword arguments override it),
checks the data against the network, and runs training as a ``lax.scan`` over steps: each
step evolves the network, computes the loss and its gradient, applies the optax update,
restores frozen parameters and projects bounded parameters back into their box. Python only
sees the loop once per chunk (for progress, checkpoints and metrics), so a chunk of hundreds
of steps is one dispatch.

Two modes: ``batch_size = 1`` (the default) takes one sample per step in dataset order,
exactly as the seed tutorial's loop does; larger batches shuffle each epoch (seeded) and
evaluate the batch in one vectorised call.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import ast
from .bounds import penalised, project, projection_mask, template
from .checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    save_params,
    spec_hash,
)
from .compile import Program
from .data import Dataset, check_against_spec, from_dataset_protocol, load_npz, make_dataset
from .errors import DataError, SpecError, SpecNameError, SpecValueError, TrainingError, did_you_mean
from .expr import Quantity, Symbol, as_int, describe
from .expr import evaluate as value_of
from .graph import Network, param_nodes

Array = Any
Tree = dict[str, dict[str, Array]]

# Optimizers and schedules are looked up by name in optax (a registry, not an if-chain).
OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    name: getattr(optax, name)
    for name in ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adabelief", "adamax", "adamaxw",
                 "amsgrad", "lion", "nadam", "nadamw", "radam", "lamb", "lars", "yogi",
                 "novograd", "fromage", "noisy_sgd", "adafactor", "adadelta", "sm3", "sign_sgd",
                 "polyak_sgd", "rprop", "optimistic_gradient_descent")
    if hasattr(optax, name)
}
SCHEDULES: dict[str, Callable[..., Any]] = {
    name: getattr(optax, name)
    for name in ("constant_schedule", "exponential_decay", "cosine_decay_schedule",
                 "warmup_cosine_decay_schedule", "linear_schedule", "polynomial_schedule",
                 "piecewise_constant_schedule", "cosine_onecycle_schedule",
                 "warmup_exponential_decay_schedule", "sgdr_schedule")
    if hasattr(optax, name)
}
ALIASES = {"lr": "learning_rate"}
TRAIN_SETTINGS = ("data", "loss", "optimizer", "epochs", "batch_size", "freeze", "seed",
                  "checkpoint_every", "test_data")


@dataclass
class FitResult:
    """What :func:`fit` returns: final parameters and optimizer state, per-step losses, and
    the run directory (when one was written)."""

    params: Tree
    opt_state: Any
    losses: np.ndarray
    steps: int
    run_dir: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Settings:
    """The resolved training setup (spec defaults overridden by arguments)."""

    data: Dataset
    data_desc: str
    optimizer: optax.GradientTransformation
    optimizer_desc: str
    epochs: int
    batch_size: int
    seed: int
    checkpoint_every: int | None


# --- resolving the train block ---------------------------------------------------------------


def _setting(prog: Program, key: str) -> ast.Setting | None:
    train = prog.network.spec.train
    return train.get(key) if train is not None else None


def _located(prog: Program, err: SpecError) -> SpecError:
    return err.located(prog.network.source, prog.network.filename)


def _kwargs(call: ast.Call, env: Mapping[str, Any], fn: Callable[..., Any], what: str
            ) -> dict[str, Any]:
    """Evaluate a call's keyword arguments for ``fn``, with schedules as nested calls."""
    sig: Mapping[str, inspect.Parameter]
    try:
        sig = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        sig = {}
    out: dict[str, Any] = {}
    positional = [p for p in sig if sig[p].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,)]
    items = [(k, v, getattr(v, "span", call.span))
             for k, v in zip(positional, call.args, strict=False)] + [
        (ALIASES.get(k, k), v, call.key_span(i)) for i, (k, v) in enumerate(call.kwargs)]
    if len(call.args) > len(positional):
        raise SpecValueError(f"{what} takes at most {len(positional)} positional arguments",
                             call.span)
    for key, expr, where in items:
        if sig and key not in sig:
            raise SpecNameError(f"{what} has no argument '{key}'", where,
                                hint=did_you_mean(key, [*sig, *ALIASES])
                                or f"arguments: {', '.join(sig)}")
        v = value_of(expr, env, calls=True)
        if isinstance(v, ast.Call):
            if v.func not in SCHEDULES:
                raise SpecNameError(f"unknown schedule '{v.func}'", v.func_span,
                                    hint=did_you_mean(v.func, SCHEDULES)
                                    or f"known schedules: {', '.join(sorted(SCHEDULES))}")
            v = SCHEDULES[v.func](**_kwargs(v, env, SCHEDULES[v.func], f"'{v.func}'"))
        elif isinstance(v, Quantity):
            v = v.value
        elif isinstance(v, Symbol):
            raise SpecNameError(f"undefined name '{v.name}'", v.span)
        elif isinstance(v, list):
            v = [x.value if isinstance(x, Quantity) else x for x in v]
        out[key] = v
    return out


def make_optimizer(expr: ast.Expr | str, env: Mapping[str, Any] | None = None
                   ) -> tuple[optax.GradientTransformation, str]:
    """An optax optimizer from ``adam(lr = 1e-4)`` (any optax optimizer by name).

    >>> make_optimizer("adam(lr = 1e-3)")[1]
    'adam(lr = 1e-3)'
    """
    if isinstance(expr, str):
        from .parse import parse_expr

        expr = parse_expr(expr)
    call = expr if isinstance(expr, ast.Call) else (
        ast.Call(expr.id, (), (), expr.span, expr.span) if isinstance(expr, ast.Name) else None)
    if call is None:
        raise SpecValueError("Expected an optimizer such as adam(lr = 1e-4)",
                             getattr(expr, "span", None))
    if call.func not in OPTIMIZERS:
        raise SpecNameError(f"unknown optimizer '{call.func}'", call.func_span,
                            hint=did_you_mean(call.func, OPTIMIZERS)
                            or f"known optimizers: {', '.join(sorted(OPTIMIZERS))}")
    fn = OPTIMIZERS[call.func]
    kwargs = _kwargs(call, env or {}, fn, f"optimizer '{call.func}'")
    missing = [p.name for p in inspect.signature(fn).parameters.values()
               if p.default is inspect.Parameter.empty and p.kind not in (
                   inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
               and p.name not in kwargs]
    if missing:
        raise SpecValueError(f"optimizer '{call.func}' needs argument '{missing[0]}'",
                             call.span, hint=f"write {call.func}({missing[0]} = ...)")
    from .fmt import format_expr

    return fn(**kwargs), format_expr(call)


def make_data(expr: ast.Expr | str | Dataset | Any, *, base_dir: Path | None = None,
              allow_outside: bool = False, env: Mapping[str, Any] | None = None) -> Dataset:
    """A :class:`Dataset` from a spec expression (``sinusoids(classes = 3)``, ``"f.npz"``),
    a path, a Dataset, or any object with ``__len__``/``__getitem__``.

    >>> ds = make_data("sinusoids(classes = 2, length = 5, channels_in = 3)")
    >>> len(ds), ds.inputs.shape
    (2, (2, 5, 3))
    """
    if isinstance(expr, Dataset):
        return expr
    if isinstance(expr, (str, os.PathLike)) and not isinstance(expr, ast.Str):
        text = os.fspath(expr)
        if text.endswith(".npz") or os.sep in text or "/" in text:
            return load_npz(text, base_dir=None, allow_outside=True)
        from .parse import parse_expr

        expr = parse_expr(text)
    if isinstance(expr, ast.Str):
        return load_npz(expr.value, base_dir=base_dir, allow_outside=allow_outside)
    if isinstance(expr, ast.Name):
        return make_dataset(expr.id, {})
    if isinstance(expr, ast.Call):
        if expr.func == "npz" and len(expr.args) == 1 and isinstance(expr.args[0], ast.Str):
            return load_npz(expr.args[0].value, base_dir=base_dir, allow_outside=allow_outside)
        if expr.args:
            raise SpecValueError(f"data set '{expr.func}' takes keyword arguments only",
                                 expr.span, hint=f"write {expr.func}(name = value, ...)")
        kwargs: dict[str, Any] = {}
        for k, v in expr.kwargs:
            val = value_of(v, env or {})
            if isinstance(val, Quantity):
                val = val.value
            if isinstance(val, Symbol):
                val = val.name
            kwargs[k] = val
        try:
            return make_dataset(expr.func, kwargs)
        except DataError as err:
            if err.span is None:
                err.span = expr.span
            raise
    if hasattr(expr, "__len__") and hasattr(expr, "__getitem__"):
        return from_dataset_protocol(expr)
    raise DataError(f"Expected a data set, got {describe(expr)}", getattr(expr, "span", None))


def resolve(prog: Program, data: Any = None, *, epochs: int | None = None,
            optimizer: Any = None, batch_size: int | None = None, seed: int | None = None,
            checkpoint_every: int | None = None, allow_outside: bool = False) -> Settings:
    """Merge the spec's ``train { }`` block with overrides and check everything.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_rate.rpg")
    >>> st = resolve(prog, epochs=2)
    >>> st.epochs, st.batch_size, len(st.data)
    (2, 1, 3)
    """
    net = prog.network
    env: dict[str, Any] = {k: Quantity(v, "time") if k == "dt" else v for k, v in net.sim.items()}
    base = Path(net.filename).parent if net.filename not in ("<string>", "") else None
    try:
        if net.spec.train is not None:
            for s in net.spec.train.settings:
                if s.key not in TRAIN_SETTINGS:
                    raise SpecNameError(f"unknown train setting '{s.key}'", s.span,
                                        hint=did_you_mean(s.key, TRAIN_SETTINGS)
                                        or f"settings: {', '.join(TRAIN_SETTINGS)}")

        def num(key: str, given: int | None, default: int | None, lo: int) -> int | None:
            if given is not None:
                if given < lo:
                    raise SpecValueError(f"Expected {key} >= {lo}, got {given}")
                return int(given)
            s = _setting(prog, key)
            if s is None:
                return default
            n = as_int(value_of(s.value, env), s.value, f"an integer {key}")
            if n < lo:
                raise SpecValueError(f"Expected {key} >= {lo}, got {n}", s.value.span)
            return n

        n_epochs = num("epochs", epochs, 100, 0)
        bs = num("batch_size", batch_size, 1, 1)
        sd = num("seed", seed, 0, 0)
        ck = num("checkpoint_every", checkpoint_every, None, 1)
        if data is None:
            sd_data = _setting(prog, "data")
            if sd_data is None:
                raise DataError("no data: the spec's train block has no 'data' setting",
                                hint="add 'data = sinusoids(...)' or pass --data FILE.npz")
            ds = make_data(sd_data.value, base_dir=base, allow_outside=allow_outside, env=env)
            from .fmt import format_expr

            desc = format_expr(sd_data.value)
        else:
            ds = make_data(data, base_dir=base, allow_outside=allow_outside, env=env)
            desc = ds.name
        if optimizer is None:
            s_opt = _setting(prog, "optimizer")
            opt, odesc = make_optimizer(s_opt.value if s_opt else "adam(lr = 1e-3)", env)
        elif isinstance(optimizer, optax.GradientTransformation):
            opt, odesc = optimizer, "custom"
        else:
            opt, odesc = make_optimizer(optimizer, env)
        check_data(prog, ds, desc)
    except SpecError as err:
        raise _located(prog, err) from None
    assert n_epochs is not None and bs is not None and sd is not None
    return Settings(ds, desc, opt, odesc, n_epochs, bs, sd, ck)


def check_data(prog: Program, ds: Dataset, desc: str) -> None:
    """The data fits the network: one input, one output, matching widths."""
    if len(prog.inputs) != 1 or len(prog.outputs) != 1:
        raise DataError("training from a data set needs exactly one input and one output; "
                        f"this network has inputs {prog.inputs} and outputs {prog.outputs}")
    net = prog.network
    # name the data as the loaders do: files as "data file '...'", the rest as "dataset"
    source = f"data file '{ds.name}'" if ds.name.endswith(".npz") else f"dataset '{desc}'"
    check_against_spec(ds, n_in=net.size(prog.inputs[0]), n_out=net.size(prog.outputs[0]),
                       source=source, input_name=prog.inputs[0], output_name=prog.outputs[0])
    if ds.kind == "classification" and _setting(prog, "loss") is None:
        raise DataError(f"{source} is a classification data set but the spec has no loss",
                        hint=f"add 'loss = cross_entropy({prog.outputs[0]}, target)' to the "
                        "train block")


# --- the fused step --------------------------------------------------------------------------


def with_bounds(net: Network, bounds: tuple[Tree, Tree] | None) -> Network:
    """``net`` with its parameter nodes' bounds replaced by ``bounds`` (a user-edited
    template), so that projection *and* the loss's ``bounds_cost``/``bounds_penalty`` terms
    enforce them. Each parameter keeps its enforcement mode (a parameter the spec leaves
    unbounded has the bounds block's default mode)."""
    if bounds is None:
        return net
    lower, upper = bounds
    g = net.graph.copy()  # fresh attribute dicts: the compiled network is not touched
    for _, d in param_nodes(g):
        d["lower"] = float(lower[d["module"]][d["name"]])
        d["upper"] = float(upper[d["module"]][d["name"]])
    return replace(net, graph=g)


def _masks(net: Network) -> tuple[Tree, Tree, Tree, Tree]:
    lower, upper = template(net)
    proj = projection_mask(net)
    frozen: Tree = {}
    for _, d in param_nodes(net.graph):
        frozen.setdefault(d["module"], {})[d["name"]] = not d["trainable"]
    return lower, upper, proj, frozen


def make_step(prog: Program, opt: optax.GradientTransformation, *,
              bounds: tuple[Tree, Tree] | None = None) -> Callable[..., Any]:
    """One training step ``(params, opt_state, x, target, key=None) -> (params, opt_state,
    loss, terms)``: evolve, loss, gradient, optax update, frozen parameters restored, bounded
    parameters projected. Pure; jit it or scan it. ``x`` is a ``(B, T, N_in)`` array (or a
    dict by input name); ``key`` seeds the noise of noisy nodes (fresh each step); without it
    they use their initial keys.

    >>> import optax, rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> params, opt = prog.init(0), optax.sgd(0.1)
    >>> step = jax.jit(make_step(prog, opt))
    >>> params, opt_state, loss, terms = step(params, opt.init(params), jnp.ones((1, 5, 3)),
    ...                                       jnp.zeros((1, 5, 2)))
    >>> sorted(terms)
    ['mse(y, target)']
    """
    from .objective import compile_terms

    net = with_bounds(prog.network, bounds)
    lower, upper, proj, frozen = _masks(net)
    terms_fn = compile_terms(net)
    any_frozen = any(v for d in frozen.values() for v in d.values())
    any_proj = any(v for d in proj.values() for v in d.values())

    noisy = [n for n, st in prog.initial_state().items() if "rng_key" in st]

    def loss_fn(params: Tree, x: dict[str, Array], target: Array, key: Array | None
                ) -> tuple[Array, Any]:
        state = None
        if key is not None and noisy:
            state = {n: {"rng_key": jax.random.fold_in(key, i)} for i, n in enumerate(noisy)}
        outs, _, _ = prog._run(params, x, state, False)
        terms = terms_fn(outs, target, params)
        total = sum(jnp.asarray(v, jnp.float32) for v in terms.values())
        return jnp.asarray(total, jnp.float32), terms

    def step(params: Tree, opt_state: Any, x: dict[str, Array] | Array, target: Array,
             key: Array | None = None) -> Any:
        if not isinstance(x, dict):  # one input network: the array is that input
            if len(prog.inputs) != 1:
                raise SpecValueError(f"Expected a dict of inputs {prog.inputs}, got an array")
            x = {prog.inputs[0]: x}
        (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, target,
                                                                         key)
        if any_frozen:  # frozen leaves get no gradient, so optimizer state stays clean
            grads = {n: {k: jnp.zeros_like(g) if frozen[n][k] else g for k, g in d.items()}
                     for n, d in grads.items()}
        updates, opt_state = opt.update(grads, opt_state, params)
        new = optax.apply_updates(params, updates)
        if any_frozen:  # and keep their value bit for bit, whatever the optimizer does
            new = {n: {k: params[n][k] if frozen[n][k] else v for k, v in d.items()}
                   for n, d in new.items()}
        if any_proj:
            new = project(new, lower, upper, proj)
        return new, opt_state, loss, terms

    return step


def _step_plan(n: int, batch_size: int, epochs: int) -> tuple[int, int]:
    """(steps per epoch, total steps)."""
    per_epoch = n if batch_size == 1 else max(1, n // batch_size)
    return per_epoch, per_epoch * epochs


def _indices(start: int, count: int, n: int, batch_size: int, per_epoch: int, seed: int
             ) -> np.ndarray:
    """Sample indices for steps ``start .. start+count``: dataset order for per-sample
    training; a seeded permutation per epoch for minibatches (drop-last). Deterministic in
    the absolute step, so a resumed run sees exactly the same batches."""
    if batch_size == 1:
        return (np.arange(start, start + count) % n).astype(np.int32)[:, None]
    b = min(batch_size, n)
    rows = []
    for s in range(start, start + count):
        epoch, k = divmod(s, per_epoch)
        perm = np.random.RandomState((seed * 1_000_003 + epoch) % 2**32).permutation(n)
        rows.append(perm[k * b:(k + 1) * b])
    return np.asarray(rows, np.int32)


def make_chunk(prog: Program, opt: optax.GradientTransformation, *,
               bounds: tuple[Tree, Tree] | None = None, devices: int | None = None,
               seed: int = 0) -> Callable[..., Any]:
    """``chunk(params, opt_state, inputs, targets, idx, step0=0) -> (params, opt_state,
    losses, terms)``: a ``lax.scan`` over steps, jitted with parameter and optimizer buffers
    donated. ``idx`` is ``(K, B)`` sample indices, one row per step; the data stays on the
    device and each step gathers its batch there. ``step0`` is the absolute number of the
    first step: noise keys derive from ``(seed, step)``, so a resumed run draws the same."""
    step = make_step(prog, opt, bounds=bounds)
    name = prog.inputs[0]
    shard = _batch_sharding(devices)
    base = jax.random.PRNGKey(seed)

    def body(carry: Any, idx: Array) -> Any:
        params, opt_state, inputs, targets, n = carry
        if idx.shape[0] == 1:  # one sample: a dynamic slice, cheaper than a gather
            x = jax.lax.dynamic_slice_in_dim(inputs, idx[0], 1, axis=0)
            t = jax.lax.dynamic_slice_in_dim(targets, idx[0], 1, axis=0)
        else:
            x = inputs[idx]
            t = targets[idx]
        if shard is not None:
            x = jax.lax.with_sharding_constraint(x, shard)
            t = jax.lax.with_sharding_constraint(t, shard)
        key = jax.random.fold_in(base, n)
        params, opt_state, loss, terms = step(params, opt_state, {name: x}, t, key)
        return (params, opt_state, inputs, targets, n + 1), (loss, terms)

    def run(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
            step0: Array) -> Any:
        (params, opt_state, _, _, _), (losses, terms) = jax.lax.scan(
            body, (params, opt_state, inputs, targets, step0), idx)
        return params, opt_state, losses, terms

    jitted = jax.jit(run, donate_argnums=(0, 1))

    def chunk(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
              step0: int = 0) -> Any:
        return jitted(params, opt_state, inputs, targets, idx, jnp.int32(step0))

    return chunk


def _batch_sharding(devices: int | None) -> Any:
    if not devices or devices <= 1:
        return None
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    avail = jax.devices()
    if len(avail) < devices:
        raise SpecValueError(
            f"--devices {devices} asks for more devices than the {len(avail)} available",
            hint="on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before "
            "starting; on several hosts call jax.distributed.initialize() first")
    mesh = Mesh(np.asarray(avail[:devices]), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch"))


# --- progress --------------------------------------------------------------------------------


class Progress:
    """A tqdm bar on a terminal; plain lines (about every 10% or 5 s) otherwise."""

    def __init__(self, total: int, per_epoch: int, enabled: bool, start: int = 0) -> None:
        self.total, self.per_epoch, self.enabled = total, per_epoch, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.start = start
        self.last_print = 0.0
        self.last_frac = -1.0
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True,
                            file=sys.stderr)

    def update(self, step: int, loss: float) -> None:
        if not self.enabled:
            return
        # the epoch the last finished step belongs to (step 3 of 3 per epoch is epoch 1)
        epochs = max(1, self.total // max(self.per_epoch, 1))
        epoch = min(max(1, -(-step // max(self.per_epoch, 1))), epochs)
        if self.bar is not None:
            self.bar.n = step
            self.bar.set_postfix_str(f"epoch {epoch}/{epochs} loss {loss:.4g}", refresh=False)
            self.bar.refresh()
            return
        now = time.perf_counter()
        frac = step / max(self.total, 1)
        if step < self.total and now - self.last_print < 5 and frac - self.last_frac < 0.1:
            return
        self.last_print, self.last_frac = now, frac
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else math.inf
        eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if math.isfinite(eta) else "?"
        print(f"epoch {epoch}/{epochs}  step {step}/{self.total}  loss {loss:.6g}  "
              f"{rate:.1f} steps/s  ETA {eta_s}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- fit -------------------------------------------------------------------------------------


def default_run_dir(prog: Program) -> Path:
    """``runs/<spec file stem>-<date>-<time>`` under the current directory."""
    stem = Path(prog.network.filename).stem if prog.network.filename != "<string>" else \
        prog.name
    return Path("runs") / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _append_metrics(path: Path, start: int, losses: np.ndarray, per_epoch: int) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for i, loss in enumerate(losses):
            s = start + i
            f.write(json.dumps({"step": s, "epoch": s // per_epoch,
                                "loss": float(loss) if math.isfinite(loss) else str(loss)})
                    + "\n")
        f.flush()


def _trim_metrics(path: Path, upto: int) -> None:
    """Keep metric lines for steps before ``upto`` (a resumed run rewrites the rest)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["step"] < upto:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            break  # a line cut by a crash: everything after it is rewritten
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
    os.replace(tmp, path)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file (one dict per step)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            break
    return out


def fit(prog: Program, data: Any = None, *, epochs: int | None = None,
        optimizer: Any = None, batch_size: int | None = None, seed: int | None = None,
        params: Tree | None = None, out_dir: str | Path | None = None, resume: bool = False,
        progress: bool = True, checkpoint_every: int | None = None, chunk: int | None = None,
        devices: int | None = None, bounds: tuple[Tree, Tree] | None = None,
        plots: bool = True, allow_outside: bool = False,
        callback: Callable[[int, Tree], None] | None = None) -> FitResult:
    """Train ``prog``; the spec's ``train { }`` block supplies defaults.

    ``bounds`` (a ``(lower, upper)`` template, e.g. an edited ``rpgraph bounds --format
    json``) replaces the spec's bounds for projection and for the loss's bounds terms.
    ``callback(step, params)`` is called after every chunk of ``chunk`` steps with the number
    of steps done and the current parameters; the arrays are reused by the next chunk, so
    copy them (``np.asarray``) to keep them.

    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")  # doctest: +SKIP
    >>> result = prog.fit(epochs=10, progress=False)  # doctest: +SKIP
    >>> result.losses.shape  # doctest: +SKIP
    (30,)
    """
    st = resolve(prog, data, epochs=epochs, optimizer=optimizer, batch_size=batch_size,
                 seed=seed, checkpoint_every=checkpoint_every, allow_outside=allow_outside)
    if chunk is not None and chunk < 1:
        raise SpecValueError(f"Expected chunk >= 1, got {chunk}")
    if bounds is not None:
        from .bounds import check_like

        check_like(bounds[0], bounds[1], prog.network, "bounds")
    ds = st.data
    classification = ds.kind == "classification"
    per_epoch, total = _step_plan(len(ds), st.batch_size, st.epochs)
    k = chunk or max(1, min(1000, math.ceil(total / 50)))
    ck_every = st.checkpoint_every or k * 5
    ck_every = max(k, (ck_every // k) * k)  # checkpoints fall on chunk boundaries
    shash = spec_hash(prog.network.source)

    run_dir = Path(out_dir) if out_dir is not None else None
    params0 = params if params is not None else prog.init(st.seed)
    prog.check_params(params0)
    params = jax.tree_util.tree_map(lambda a: jnp.array(a, jnp.float32), params0)
    opt_state = st.optimizer.init(params)
    start = 0
    if resume:
        if run_dir is None or latest_checkpoint(run_dir) is None:
            raise TrainingError(f"nothing to resume in '{run_dir}'",
                                hint="start the run without --resume first")
        ck = load_checkpoint(run_dir, params_like=params, opt_state_like=opt_state,
                             spec_hash=shash)
        params, opt_state, start = ck.params, ck.opt_state, int(ck.step)
        if ck.extra.get("total_steps") not in (None, total):
            raise TrainingError(
                f"the run in '{run_dir}' was started with {ck.extra['total_steps']} steps; "
                f"this one has {total}", hint="resume with the same --epochs and data")
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in run_dir.glob(".*.npz.*.tmp"):  # half-written files of a killed run
            stale.unlink(missing_ok=True)
        _write_run_files(prog, run_dir, st, total, bounds)
        if resume:
            _trim_metrics(run_dir / "metrics.jsonl", start)
        else:
            (run_dir / "metrics.jsonl").write_text("", encoding="utf-8")

    inputs = jnp.asarray(ds.inputs, jnp.float32)
    targets = jnp.asarray(ds.labels if classification else ds.targets)
    run_chunk = make_chunk(prog, st.optimizer, bounds=bounds, devices=devices, seed=st.seed)
    bar = Progress(total, per_epoch, progress, start)
    losses_all: list[np.ndarray] = []
    t0 = time.perf_counter()
    step = start
    try:
        while step < total:
            # chunk boundaries are absolute multiples of k: a resumed run replays the same
            # programs as an uninterrupted one, so results are bit-identical
            end = min((step // k + 1) * k, total)
            idx = _indices(step, end - step, len(ds), st.batch_size, per_epoch, st.seed)
            params, opt_state, losses, terms = run_chunk(params, opt_state, inputs, targets,
                                                         jnp.asarray(idx), step)
            losses = np.asarray(losses)
            if not np.all(np.isfinite(losses)):
                _non_finite(prog, losses, terms, step, per_epoch, run_dir)
            losses_all.append(losses)
            if run_dir is not None:
                _append_metrics(run_dir / "metrics.jsonl", step, losses, per_epoch)
            step = end
            if run_dir is not None and (step % ck_every == 0 or step == total):
                save_checkpoint(run_dir, params=params, opt_state=opt_state, step=step,
                                rng_key=jax.random.PRNGKey(st.seed), spec_hash=shash,
                                extra={"total_steps": total, "epochs": st.epochs})
            bar.update(step, float(losses[-1]) if len(losses) else float("nan"))
            if callback is not None:
                callback(step, params)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    all_losses = np.concatenate(losses_all) if losses_all else np.zeros(0, np.float32)
    result = FitResult(params, opt_state, all_losses, total, run_dir, seconds=seconds)
    result.metrics = evaluate(prog, params, ds, bounds=bounds)
    if run_dir is not None:
        save_params(run_dir, params, spec_hash=shash)
        (run_dir / "summary.json").write_text(json.dumps(
            {"steps": total, "seconds": seconds, **result.metrics}, indent=2), encoding="utf-8")
        if plots:
            from .plots import plot_run

            plot_run(prog, params, ds, run_dir, bounds=bounds)
    return result


def _non_finite(prog: Program, losses: np.ndarray, terms: dict[str, Array], step: int,
                per_epoch: int, run_dir: Path | None) -> None:
    j = int(np.argmax(~np.isfinite(losses)))
    bad_step = step + j
    names = [name for name, v in terms.items()
             if not np.isfinite(np.asarray(v)[j])]
    where = f" (last good checkpoint kept in '{run_dir}')" if run_dir is not None else ""
    raise TrainingError(
        f"loss became {losses[j]} at step {bad_step} (epoch {bad_step // per_epoch}); "
        f"non-finite term: {', '.join(names) or 'the total'}{where}",
        hint="lower the learning rate, bound the parameters that diverge, or check the data")


def _write_run_files(prog: Program, run_dir: Path, st: Settings, total: int,
                     bounds: tuple[Tree, Tree] | None) -> None:
    from .bounds import to_json

    (run_dir / "spec.rpg").write_text(prog.network.source, encoding="utf-8")
    lower, upper = bounds if bounds is not None else template(prog.network)
    (run_dir / "bounds.json").write_text(to_json(lower, upper), encoding="utf-8")
    (run_dir / "config.json").write_text(json.dumps({
        "spec": prog.network.filename, "data": st.data_desc, "optimizer": st.optimizer_desc,
        "epochs": st.epochs, "batch_size": st.batch_size, "seed": st.seed,
        "total_steps": total, "penalised_bounds": penalised(with_bounds(prog.network, bounds)),
    }, indent=2), encoding="utf-8")


# --- evaluation ------------------------------------------------------------------------------


def predict(prog: Program, params: Tree, inputs: Array, batch: int = 256) -> np.ndarray:
    """Outputs for a whole ``(N, T, C)`` array, in batches. A short last batch is padded
    to the full batch size, so a data set costs one compilation, not two.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> predict(prog, prog.init(0), np.ones((10, 5, 3), np.float32), batch=4).shape
    (10, 5, 2)
    """
    outs = []
    n = len(inputs)
    for i in range(0, n, batch):
        x = np.asarray(inputs[i:i + batch], np.float32)
        short = len(x)
        if n > batch and short < batch:
            x = np.concatenate([x, np.zeros((batch - short, *x.shape[1:]), np.float32)])
        y, _, _ = prog.evolve(params, jnp.asarray(x))
        outs.append(np.asarray(y)[:short])
    return np.concatenate(outs) if outs else np.zeros((0,))


def evaluate(prog: Program, params: Tree, ds: Dataset, *,
             bounds: tuple[Tree, Tree] | None = None) -> dict[str, float]:
    """Loss (the spec's; its bounds terms use ``bounds`` when given), and accuracy for
    classification; on the test split too.

    The network runs once per split (in batches); the loss is computed from those outputs,
    so evaluation compiles the network once rather than once per array shape.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> sorted(evaluate(prog, prog.init(0), make_data("sinusoids(classes = 3)")))
    ['loss', 'mse']
    """
    from .objective import compile_loss

    out: dict[str, float] = {}
    loss_fn = compile_loss(with_bounds(prog.network, bounds))
    name = prog.outputs[0]
    loss = jax.jit(lambda p, y, t: loss_fn({name: y}, t, p))
    for prefix, part in (("", ds), ("test_", ds.test)):
        if part is None:
            continue
        y = predict(prog, params, part.inputs)
        if part.kind == "classification":
            assert part.labels is not None
            pred = y.sum(axis=1).argmax(-1)
            out[prefix + "accuracy"] = float(np.mean(pred == part.labels))
            t = jnp.asarray(part.labels)
        else:
            assert part.targets is not None
            out[prefix + "mse"] = float(np.mean((y - part.targets) ** 2))
            t = jnp.asarray(part.targets)
        out[prefix + "loss"] = float(loss(params, jnp.asarray(y), t))
    return out
