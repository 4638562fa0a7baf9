"""The teaching tools: `compare` (a safe parser and its lowering into the core's IR, the side-by-side
table, the torch code, the graph picture) and `train-compare`. They may import the core
(`oracle.*`) and micrograd, never `oracle.fuzz`.
"""
