"""Mistake: backward()'s topological sort has no visited set, so a node reached along two paths goes into the
order twice and its rule runs twice (its children get its gradient twice), and on a graph full of diamonds the
walk visits every path, not every node: exponentially many."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def backward(self):
        topo, stack = [], [(self, False)]
        while stack:  # an explicit stack, as the lecture's base: no recursion limit
            v, children_done = stack.pop()
            if children_done:
                topo.append(v)
            else:
                stack.append((v, True))
                stack.extend((child, False) for child in v._prev)  # <- the mistake

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
