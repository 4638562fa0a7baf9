"""The fuzzer: engine loading and probing, case plans, crash-isolated workers, campaigns, reduction
and shrinking, the findings store and its reproducer scripts, mutants and the selftest, and the
`fuzz` and `selftest` commands. It may import the core (`oracle.*`), never `oracle.teach`.
"""
