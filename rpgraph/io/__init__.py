"""File input and output shared by every stage (imports only :mod:`rpgraph.errors`):

* :mod:`rpgraph.io.npz` -- safe ``.npz`` reading (regular files only, headers checked before
  unpacking, no pickle), atomic writing, data paths confined to the spec's folder;
* :mod:`rpgraph.io.checkpoint` -- checkpoints and parameter files, restored against a template;
* :mod:`rpgraph.io.data` -- data sets: built-in generators, ``.npz`` files, Rockpool-style objects.
"""
