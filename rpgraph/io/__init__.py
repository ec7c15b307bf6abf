"""File input and output shared by every stage (imports only :mod:`rpgraph.errors`):

* :mod:`rpgraph.io.npz` -- safe ``.npz`` reading (regular files only, headers checked before
  unpacking, no pickle), atomic writing, data paths confined to the spec's folder;
* :mod:`rpgraph.io.checkpoint` -- checkpoints and parameter files, restored against a template;
* :mod:`rpgraph.io.data` -- data sets: built-in generators, ``.npz`` files, Rockpool-style objects;
* :mod:`rpgraph.io.encode` -- encoders of dense arrays into inputs over time (rate, poisson, ...);
* :mod:`rpgraph.io.events` -- event data (SHD/SSC HDF5, N-MNIST binaries, generic ``.npz``)
  binned into frames and cached; importing this package registers those data sets.
"""

from . import events as events  # registers shd, ssc, nmnist, events in data.DATASETS
