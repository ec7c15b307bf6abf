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
* :mod:`~rpgraph.nir.conventions`: how NIR's ``tau``, ``r``, ``w_in`` and ``v_leak``
  become per-step decays and gains in the Norse, snnTorch and Rockpool conventions, and
  :func:`detect_convention`. :mod:`~rpgraph.nir.files`: reading and writing ``.nir``
  (HDF5) files.

Node mapping (import)
---------------------

=============================  =========================================================
NIR                            rpgraph
=============================  =========================================================
``Input`` / ``Output``         ``input`` / ``output`` ports (inside a block: its ports)
``Affine`` / ``Linear``        ``linear(out, bias = true)`` / ``linear(out)``;
                               ``weight_rpgraph = W_nir.T`` (rpgraph is ``x @ W``)
``Scale``                      ``linear(n)`` with a diagonal weight, frozen (``train``);
                               ``identity`` when all scales are 1
``LI``                         ``expsyn`` (``v_leak`` must be 0)
``CubaLI``                     ``expsyn`` (synapse) -> frozen diagonal ``linear`` (gain)
                               -> ``expsyn`` (membrane); ``v_leak`` must be 0
``I``                          ``expsyn`` with ``tau = dt * 2**40`` (decay rounds to 1)
``CubaLIF``                    ``lif(reset = v_reset)`` (Rockpool convention: subtractive)
``LIF``                        ``lif`` with a near-instantaneous synapse (see below)
``IF``                         ``lif`` with ``tau_mem = dt * 2**40`` and instant synapse
``Threshold``                  ``lif`` with instant membrane and synapse (approximate)
nested ``NIRGraph``            a ``block`` (one input, one output) or else flattened
                               into ``<sub>__<node>`` names with ``identity`` junctions;
                               at most :data:`MAX_NESTING` levels deep
cycles                         graph cycles; the edge leaving the stateful node carries
                               the previous step's output (rpgraph's one-step delay)
=============================  =========================================================

Unsupported (one :class:`~rpgraph.errors.SpecError` lists them all): ``Conv1d``,
``Conv2d``, ``SumPool2d``, ``AvgPool2d``, ``Delay``, ``Flatten``, multi-dimensional neuron
shapes, ``LI`` / ``CubaLI`` with ``v_leak != 0``, thresholds or time constants <= 0, NaN or
infinite parameters, unknown node types.

Approximations (each warned about with :func:`warnings.warn` on import, as
``NIR import: ...``):

* Reset: NIR fires on ``v > thr`` and sets ``v`` to ``v_reset``; imported neurons are
  ``lif(reset = v_reset)``, which does exactly that (one spike per step, the parameter
  ``v_reset`` from the file). Graphs in the Rockpool convention keep Rockpool's reset
  (subtract the threshold, fire on ``v >= thr``) and emit at most one spike per step
  (``max_spikes_per_dt = 1``, where Rockpool's multi-spike neurons may emit several), with
  a warning, unless a node's ``rpgraph_reset`` metadata says otherwise. (snnTorch's own
  "subtract" mechanism is not what its NIR files declare: they are read as NIR says.)
* ``LIF`` / ``IF`` have no synapse: the ``lif`` synapse gets ``tau_syn = dt / (20 ln 2)``
  (``A_s = 2**-20``, a 1e-6 residual of the previous step's current) and its
  ``1 / A_s = 2**20`` gain is folded into the incoming weights (large weights: rescale
  before training with a learning rate tuned for the original model).
* ``Threshold`` also gets ``tau_mem = dt / (20 ln 2)`` (``v ~ input``).
* An input gain that cannot be folded into ``linear`` nodes used only by the neuron is
  kept as a frozen diagonal ``linear`` named ``<node>_in``.
* Forward-Euler decays need ``dt < tau``; ``A <= 0`` is clamped to ``2**-20``.
* A subgraph with other than one ``Input`` and one ``Output`` is flattened.

Norse's ``CubaLIF`` is imported in step with Norse: checked against Norse 1.1's
``LIFCell``, the traces match with no offset.

Export (:func:`to_nir`) writes the ``"rockpool"`` convention; see
:mod:`rpgraph.nir.export` for the mapping of each kind.
"""

from .conventions import CONVENTIONS, detect_convention
from .export import EXPORTABLE_KINDS, to_nir
from .files import MAX_NESTING, read_nir, write_nir
from .importer import from_nir, nir_to_spec

__all__ = [
    "CONVENTIONS",
    "EXPORTABLE_KINDS",
    "MAX_NESTING",
    "detect_convention",
    "from_nir",
    "nir_to_spec",
    "read_nir",
    "to_nir",
    "write_nir",
]
