"""NIR interchange: export rpgraph networks to NIR graphs and import NIR graphs as specs.

`NIR <https://neuroir.org>`_ describes networks as continuous-time equations; rpgraph runs
a discrete-time program with step ``dt``. This package converts in both directions:

* :func:`to_nir` / :func:`write_nir`: a :class:`~rpgraph.graph.Network` (or compiled
  :class:`~rpgraph.compile.Program`) plus its parameters -> a :class:`nir.NIRGraph`
  (:mod:`~rpgraph.nir.export`: a table of exporters by module kind; block instances as
  nested subgraphs, or one flat graph).
* :func:`read_nir` / :func:`nir_to_spec` / :func:`from_nir`: a NIR graph -> readable
  ``.rpg`` spec text (structure and sizes only) plus a parameter dict
  ``{node: {param: array}}`` shaped like :meth:`Program.init`
  (:mod:`~rpgraph.nir.model` reads the graph, :mod:`~rpgraph.nir.importer` builds the
  syntax tree and prints it with :mod:`rpgraph.fmt`).
* :mod:`~rpgraph.nir.conventions`: how each reader (a literal forward-Euler NIR reader,
  Norse, snnTorch, Rockpool: the *conventions*) turns NIR's ``tau``, ``r``, ``w_in`` and
  ``v_leak`` into per-step decays and gains, both ways (import, and the parameters an
  export writes for that reader), and :func:`detect_convention`.
  :mod:`~rpgraph.nir.files`: reading and writing ``.nir`` (HDF5) files.

Node mapping (import)
---------------------

Each NIR type has a converter in :data:`rpgraph.nir.model.CONVERTERS`; the table lists them
all (tests/test_nir.py checks it against the code). *Euler* conventions are ``nir``,
``norse`` and ``snntorch`` (NIR's equations by forward Euler); *Rockpool* is ``rockpool``.

=============================  =========================================================
NIR                            rpgraph
=============================  =========================================================
``Input`` / ``Output``         ``input`` / ``output`` ports (inside a block: its ports)
``Affine`` / ``Linear``        ``linear(out, bias = true)`` / ``linear(out)``;
                               ``weight_rpgraph = W_nir.T`` (rpgraph is ``x @ W``)
``Scale``                      ``linear(n)`` with a diagonal weight, frozen (``train``);
                               ``identity`` when all scales are 1
``LI``                         Euler: ``li`` with the file's ``tau``, ``r``, ``v_leak``
                               (``li`` steps NIR's equation by forward Euler: exact).
                               Rockpool: ``expsyn`` (Rockpool's ``ExpSyn``,
                               ``v = A (v + S)``; ``v_leak`` must be 0)
``CubaLI``                     ``expsyn`` (synapse) -> frozen diagonal ``linear`` (gain)
                               -> ``expsyn`` (membrane); ``v_leak`` must be 0
``I``                          ``expsyn`` with ``tau = dt * 2**40`` (decay rounds to 1)
``CubaLIF``                    ``lif(reset = v_reset)`` (Rockpool convention: subtractive,
                               ``max_spikes_per_dt = 1``)
``LIF``                        ``lif`` with a near-instantaneous synapse (see below)
``IF``                         Euler: ``if(reset = v_reset)`` with ``r = R dt`` (NIR's
                               ``dv/dt = R I`` by forward Euler is exactly its step).
                               Rockpool: ``if(spikes = multi, max_spikes_per_dt = 1)``
                               (fires on ``v >= thr``, subtracts the threshold)
``Threshold``                  ``lif`` with instant membrane and synapse (approximate)
``Conv1d`` / ``Conv2d``        ``conv1d`` / ``conv2d`` (weight as is; stride, zero
                               padding, dilation, groups, bias)
``SumPool2d`` / ``AvgPool2d``  ``sumpool2d`` / ``avgpool2d``
``Flatten``                    ``flatten`` (the whole sample only)
``Delay``                      ``delay`` with the delays rounded to whole steps
nested ``NIRGraph``            a ``block`` (one input, one output) or else flattened
                               into ``<sub>__<node>`` names with ``identity`` junctions;
                               at most :data:`MAX_NESTING` levels deep
cycles                         graph cycles; the edge leaving the stateful node carries
                               the previous step's output (rpgraph's one-step delay)
=============================  =========================================================

Spiking layers of shape ``(C, H, W)`` (after a convolution) are imported with their
parameters flattened channel-major, the order rpgraph keeps activity in. An ``LI`` that
rpgraph wrote for an ``expsyn`` (metadata ``rpgraph_kind = "expsyn"``) comes back as
``expsyn`` in any convention, so that ``expsyn`` round trips keep their kind.

Unsupported (one :class:`~rpgraph.errors.SpecError` lists them all): unknown node types;
``LI`` with ``v_leak != 0`` in the Rockpool convention and ``CubaLI`` with ``v_leak != 0``
(``expsyn`` has no bias); ``LI``, ``CubaLI``, ``I``, ``Scale`` and ``Delay`` of more than
one axis; negative delays; ``Flatten`` of part of a sample; convolution padding other than
zeros, weights of the wrong rank; thresholds or time constants <= 0; NaN or infinite
parameters.

Approximations (each warned about with :func:`warnings.warn` on import, as
``NIR import: ...``):

* Reset: NIR fires on ``v > thr`` and sets ``v`` to ``v_reset``; imported neurons are
  ``lif(reset = v_reset)`` / ``if(reset = v_reset)``, which do exactly that (one spike per
  step, the parameter ``v_reset`` from the file). Graphs in the Rockpool convention keep
  Rockpool's reset (subtract the threshold, fire on ``v >= thr``) and emit at most one spike
  per step (``max_spikes_per_dt = 1``, where Rockpool's multi-spike neurons may emit
  several), with a warning, unless a node's ``rpgraph_reset`` metadata says otherwise.
  (snnTorch's own "subtract" mechanism is not what its NIR files declare: they are read as
  NIR says.)
* ``LIF`` has no synapse: the ``lif`` synapse gets ``tau_syn = dt / (20 ln 2)``
  (``A_s = 2**-20``, a 1e-6 residual of the previous step's current) and its
  ``1 / A_s = 2**20`` gain is folded into the incoming weights (large weights: rescale
  before training with a learning rate tuned for the original model).
* ``Threshold`` also gets ``tau_mem = dt / (20 ln 2)`` (``v ~ input``).
* An input gain that cannot be folded into ``linear`` nodes used only by the neuron is
  kept as a frozen diagonal ``linear`` named ``<node>_in``.
* Forward-Euler decays need ``dt < tau``; ``A <= 0`` is clamped to ``2**-20`` (for ``li``:
  ``tau = dt / (1 - 2**-20)``, ``r`` and ``v_leak`` scaled to keep ``dt / tau * r`` and
  ``dt / tau * v_leak``).
* ``Delay``: delays that are not whole steps of ``dt`` are rounded.
* Rockpool convention: ``r`` is no gain (Rockpool reads it only as its step,
  ``tau / (1 + r)``); an ``r`` that is neither Rockpool's ``tau exp(-dt / tau) / dt`` nor
  rpgraph's ``tau / dt - 1`` is said to be ignored.
* A subgraph with other than one ``Input`` and one ``Output`` is flattened.

The ``nir``, ``norse`` and ``snntorch`` conventions import alike (NIR's equations by
forward Euler, as Norse 1.1's ``from_nir`` and snnTorch's ``import_from_nir`` run them);
what Norse does besides (its synapse also relaxes to ``v_leak``, it resets to 0) is not
imported. Files that rpgraph wrote carry their convention and each neuron's reset in the
metadata, so rpgraph reads them back as they ran.

Export (:func:`to_nir`) writes the file for the reader of a convention (``"nir"`` by
default); see :mod:`rpgraph.nir.export` for the mapping of each kind and
:mod:`rpgraph.nir.conventions` for what each reader cannot run exactly (each such case is
warned about on export, as ``NIR export (<convention>): ...``). The README's conformance
tables give the measured spike agreement of every case.
"""

from .conventions import CONVENTIONS, EXPORT_CONVENTIONS, detect_convention
from .export import EXPORTABLE_KINDS, to_nir
from .files import MAX_NESTING, read_nir, write_nir
from .importer import from_nir, nir_to_spec

__all__ = [
    "CONVENTIONS",
    "EXPORTABLE_KINDS",
    "EXPORT_CONVENTIONS",
    "MAX_NESTING",
    "detect_convention",
    "from_nir",
    "nir_to_spec",
    "read_nir",
    "to_nir",
    "write_nir",
]
