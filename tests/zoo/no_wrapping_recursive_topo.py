"""Mistake: backward() builds the topological order recursively, as in the lecture, so a chain deeper than the
recursion limit (about 1000) raises RecursionError. Its `+` and `*` are the lecture's first version, which do not
wrap numbers (add_mul_no_wrapping): `x + 1.0` is a form it does not take, so only Value-with-Value forms of them
are tested."""
from tests.zoo.add_mul_no_wrapping import Value as NoWrapping


class Value(NoWrapping):

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)  # <- the mistake
                topo.append(v)
        build_topo(self)

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
