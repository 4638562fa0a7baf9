"""The two graphs every micrograd user knows, built once for all the tests: the README example
and the lecture's neuron, each after backward()."""
from micrograd.engine import Value


def readme_example():
    """The README example, after backward(): its leaves a and b, and its output g."""
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return a, b, g


def readme_graph():
    return readme_example()[2]


def lecture_example():
    """The lecture's neuron with every node labelled, after backward(): the nodes by label."""
    x1 = Value(2.0, label='x1')
    x2 = Value(0.0, label='x2')
    w1 = Value(-3.0, label='w1')
    w2 = Value(1.0, label='w2')
    b = Value(6.8813735870195432, label='b')
    x1w1 = x1*w1
    x1w1.label = 'x1*w1'
    x2w2 = x2*w2
    x2w2.label = 'x2*w2'
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = 'x1*w1 + x2*w2'
    n = x1w1x2w2 + b
    n.label = 'n'
    o = n.tanh()
    o.label = 'o'
    o.backward()
    return {v.label: v for v in (x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o)}


def lecture_neuron():
    return lecture_example()['o']
