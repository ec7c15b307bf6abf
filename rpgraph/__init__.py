"""rpgraph: declarative .rpg network specs compiled to fused, jitted JAX programs.

>>> import rpgraph
>>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
>>> sorted(prog.init(seed=0))
['linear_0']
"""

from .compile import Options, Program, compile
from .errors import SpecError
from .graph import Network, load, loads
from .train import FitOptions, FitResult, fit

__all__ = ["FitOptions", "FitResult", "Network", "Options", "Program", "SpecError", "compile",
           "fit", "load", "loads"]
__version__ = "0.1.0"
