"""Mistake: backward()'s walk has a visited set but puts each node in the order before its children (a
pre-order, not a topological order), so a node shared by two parents can run its rule before the second
parent has added its part to the node's gradient."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def backward(self):
        topo, visited, stack = [], set(), [self]
        while stack:
            v = stack.pop()
            if v not in visited:
                visited.add(v)
                topo.append(v)  # <- the mistake
                stack.extend(v._prev)

        self.grad = 1.0
        for node in topo:
            node._backward()
