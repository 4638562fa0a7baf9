"""Neurons, layers and multi-layer perceptrons built from `Value`s; a drop-in for micrograd 0.1.0's nn.

Two networks share the name MLP, and the defaults are 0.1.0's:

    MLP(2, [16, 16, 1])                                            # micrograd 0.1.0's, the demo's
    MLP(3, [4, 4, 1], act='tanh', bias='uniform', last='tanh')     # the lecture's

0.1.0's (act='relu', bias='zero', last='linear'): every bias starts at 0, relu in the hidden layers,
the last layer linear. Seeded runs reproduce 0.1.0: the weights are drawn in the same order with
`uniform(-1, 1)`. The lecture's Neuron draws its bias with `uniform(-1, 1)` too, after its weights,
and applies tanh in every layer, the last included; with the lecture's seed, this spelling draws
the same numbers and computes the same bits. Pass `rng=random.Random(seed)` to draw from a private
generator instead of the global one.
"""
import numbers
import random

from micrograd.engine import Value

BIASES = ('zero', 'uniform')  # 0.1.0's Value(0); the lecture's Value(uniform(-1, 1)), drawn after the weights

ACTIVATIONS = {  # name -> (function, the repr prefix 0.1.0 uses for relu and linear)
    'relu': (Value.relu, 'ReLU'),
    'tanh': (Value.tanh, 'Tanh'),
    'sigmoid': (Value.sigmoid, 'Sigmoid'),
    'linear': (None, 'Linear'),
}


class Module:

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        return []


class Neuron(Module):

    def __init__(self, nin, nonlin=True, act='relu', rng=None, bias='zero'):
        if act not in ACTIVATIONS:
            raise ValueError(f"Neuron: unknown activation {act!r}; choose one of {', '.join(ACTIVATIONS)}")
        if bias not in BIASES:
            raise ValueError(f"Neuron: unknown bias {bias!r}; choose one of {', '.join(BIASES)}")
        uniform = (rng or random).uniform
        self.w = [Value(uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(uniform(-1, 1) if bias == 'uniform' else 0)
        self.nonlin = nonlin
        self.act = act if nonlin else 'linear'

    def __call__(self, x):
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: expected {len(self.w)} inputs, got {len(x)}")
        act = Value._linear(self.b, self.w, x)  # sum((wi*xi for wi, xi in zip(self.w, x)), self.b), as one node
        f = ACTIVATIONS[self.act][0]
        return f(act) if f else act

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{ACTIVATIONS[self.act][1]}Neuron({len(self.w)})"


class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):

    def __init__(self, nin, nouts, act='relu', rng=None, bias='zero', last='linear'):
        sz = [nin] + list(nouts)
        hidden = len(nouts) - 1  # the layers before the last
        self.layers = [Layer(sz[i], sz[i+1], nonlin=i < hidden or last != 'linear', act=act if i < hidden else last,
                             rng=rng, bias=bias) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer([x] if isinstance(x, (Value, numbers.Real)) else x)  # a width-1 layer hands on a bare Value
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
