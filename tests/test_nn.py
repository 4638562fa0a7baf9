"""micrograd.nn: 0.1.0's initialisation, reprs and shapes; the activations, private seeding and
width-1 layers it lacked; and the neuron's one-node sum, bit for bit the chain it replaces."""
import random

import pytest

from micrograd.engine import Value
from micrograd.nn import MLP, Layer, Neuron


def chain_sum(b, ws, xs):
    """0.1.0's neuron sum: a chain of + and * nodes."""
    return sum((wi*xi for wi, xi in zip(ws, xs)), b)


@pytest.mark.parametrize("values", [True, False], ids=["Value inputs", "float inputs"])
def test_neuron_sum_is_bit_for_bit_the_chain_it_replaces(values):
    rng = random.Random(0)
    for n in (1, 2, 5, 16):
        raw = [rng.uniform(-3, 3) for _ in range(2 * n + 1)]
        results = []
        for f in (chain_sum, Value._linear):
            b, ws = Value(raw[0]), [Value(x) for x in raw[1:n + 1]]
            xs = [Value(x) for x in raw[n + 1:]] if values else raw[n + 1:]
            out = f(b, ws, xs)
            (out.tanh() * 1.5).backward()
            grads = [v.grad for v in [b, *ws, *(xs if values else [])]]
            results.append([out.data.hex()] + [g.hex() for g in grads])
        assert results[0] == results[1]


def test_neuron_sum_with_an_input_used_twice_accumulates():
    x, w1, w2, b = Value(0.7), Value(-1.5), Value(2.0), Value(0.25)
    Value._linear(b, [w1, w2], [x, x]).backward()
    assert x.grad == -1.5 + 2.0 and (w1.grad, w2.grad, b.grad) == (0.7, 0.7, 1.0)


def test_initialisation_reproduces_0_1_0_from_the_global_seed():
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    random.seed(1337)
    want = [random.uniform(-1, 1) for _ in range(2 * 16)]  # 0.1.0 draws the first layer's weights first
    got = [w.data for n in model.layers[0].neurons for w in n.w]
    assert got == want
    assert all(n.b.data == 0.0 for layer in model.layers for n in layer.neurons)


def test_private_rng_leaves_the_global_generator_alone():
    random.seed(5)
    before = random.random()
    random.seed(5)
    a = MLP(3, [4, 1], rng=random.Random(9))
    assert random.random() == before
    b = MLP(3, [4, 1], rng=random.Random(9))
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]


def test_parameter_count_and_reprs_match_0_1_0():
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == 337
    assert repr(Neuron(3)) == "ReLUNeuron(3)"
    assert repr(Neuron(3, nonlin=False)) == "LinearNeuron(3)"
    assert repr(Layer(2, 2)) == "Layer of [ReLUNeuron(2), ReLUNeuron(2)]"
    assert repr(MLP(2, [1, 1])) == "MLP of [Layer of [ReLUNeuron(2)], Layer of [LinearNeuron(1)]]"


@pytest.mark.parametrize("act, name", [("relu", "ReLU"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid"),
                                       ("linear", "Linear")])
def test_activations(act, name):
    n = Neuron(2, act=act, rng=random.Random(1))
    out = n([Value(0.3), Value(-0.8)])
    assert repr(n) == f"{name}Neuron(2)"
    assert out._op == {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid", "linear": "linear"}[act]
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        Neuron(2, act="gelu")


def test_shapes_and_last_layer_linear():
    model = MLP(3, [4, 2], rng=random.Random(2))
    out = model([1.0, -2.0, 0.5])
    assert isinstance(out, list) and len(out) == 2
    assert all(n.nonlin for n in model.layers[0].neurons) and not any(n.nonlin for n in model.layers[-1].neurons)
    assert isinstance(MLP(3, [4, 1])([1.0, 2.0, 3.0]), Value)


def test_width_one_hidden_layer_works():
    model = MLP(2, [16, 1, 1], rng=random.Random(3))
    out = model([0.5, -0.5])
    out.backward()
    assert isinstance(out, Value) and len(model.parameters()) == 16 * 3 + 17 + 2


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        MLP(2, [3, 1])([1.0, 2.0, 3.0])


def test_zero_grad():
    model = MLP(2, [3, 1], rng=random.Random(4))
    model([1.0, 2.0]).backward()
    assert any(p.grad for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


# --- the lecture's network: MLP(3, [4, 4, 1], act='tanh', bias='uniform', last='tanh') ---

LECTURE = dict(act='tanh', bias='uniform', last='tanh')


class LectureNeuron:
    """The lecture's Neuron, as typed in its notebook: a uniform(-1, 1) bias, tanh."""

    def __init__(self, nin):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))

    def __call__(self, x):
        act = sum((wi*xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh()

    def parameters(self):
        return self.w + [self.b]


class LectureMLP:
    """The lecture's Layer and MLP in one: tanh in every layer, the last included."""

    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [[LectureNeuron(sz[i]) for _ in range(sz[i+1])] for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            outs = [n(x) for n in layer]
            x = outs[0] if len(outs) == 1 else outs
        return x

    def parameters(self):
        return [p for layer in self.layers for n in layer for p in n.parameters()]


def test_lecture_spelling_draws_and_computes_the_lectures_bits():
    x = [2.0, 3.0, -1.0]
    for seed in range(3):
        random.seed(seed)
        theirs = LectureMLP(3, [4, 4, 1])
        random.seed(seed)
        ours = MLP(3, [4, 4, 1], **LECTURE)
        assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
        assert ours(x).data == theirs(x).data
    assert repr(ours.layers[-1]) == "Layer of [TanhNeuron(4)]"


@pytest.mark.parametrize("seed", range(3))
def test_the_lectures_training_cell_drives_the_loss_down(seed):
    random.seed(seed)
    n = MLP(3, [4, 4, 1], **LECTURE)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]  # desired targets
    losses = []
    for _ in range(20):
        # forward pass
        ypred = [n(x) for x in xs]
        loss = sum((yout - ygt)**2 for ygt, yout in zip(ys, ypred))
        # backward pass
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        # update
        for p in n.parameters():
            p.data += -0.1 * p.grad
        losses.append(loss.data)
    assert losses[-1] < losses[0] / 50 and losses[-1] < 0.05, losses
    assert [yout.data > 0 for yout in (n(x) for x in xs)] == [ygt > 0 for ygt in ys]


def test_the_defaults_are_0_1_0s_spelled_out():
    random.seed(7)
    default = MLP(2, [16, 16, 1])
    random.seed(7)
    spelled = MLP(2, [16, 16, 1], act='relu', bias='zero', last='linear')
    assert [p.data for p in default.parameters()] == [p.data for p in spelled.parameters()]
    assert repr(default) == repr(spelled)
    with pytest.raises(ValueError, match="unknown bias 'normal'"):
        MLP(2, [1], bias='normal')
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        MLP(2, [1], last='gelu')
