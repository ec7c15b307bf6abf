"""Training, by layer: settings from the ``train { }`` block (:mod:`.settings`), the fused
step and chunk (:mod:`.step`), the loop (:mod:`.loop`), the run directory
(:mod:`.run_dir`), progress (:mod:`.progress`), evaluation (:mod:`.evaluate`) and plots as a
callback (:mod:`.plots`, which the loop never imports).

>>> import rpgraph
>>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }\\n"
...                        "train { data = sinusoids(classes = 2, length = 5, channels_in = 3) }")
>>> fit(prog, epochs=2, progress=False).losses.shape
(4,)
"""

from .evaluate import evaluate, predict
from .loop import FitOptions, FitResult, fit
from .progress import Progress
from .run_dir import RunDir, default_run_dir, read_metrics
from .settings import Settings, make_data, resolve
from .step import Constrained, constrained, freeze, make_chunk, make_step

__all__ = ["Constrained", "FitOptions", "FitResult", "Progress", "RunDir", "Settings",
           "constrained", "default_run_dir", "evaluate", "fit", "freeze", "make_chunk",
           "make_data", "make_step", "predict", "read_metrics", "resolve"]
