"""Running the engine, watched: one forward pass of a program or an MLP (and on demand a backward
pass), with every node by identity and the line that created it. The checks of steps 1-4 are its
methods, one base class per step."""
from oracle.fuzz import graph
from oracle.fuzz.diagnose.nodes import as_float, same
from oracle.fuzz.diagnose.raised import Raised
from oracle.fuzz.diagnose.rules import Rules
from oracle.fuzz.diagnose.trace import Creations
from oracle.fuzz.diagnose.values import Values
from oracle.fuzz.diagnose.walk import Walk
from oracle.mlp import engine_loss, engine_model, nn_model
from oracle.program import evaluate_one

MUTATION_CHECK = 200  # programs up to this long are watched for an op that changes an earlier node's data


class Run(Raised, Values, Rules, Walk):
    """One forward pass (and on demand a backward pass) in the engine, with what the diagnosis needs:
    every node by identity, where each was created, and the exception if one was raised."""

    def __init__(self, Engine, root):
        self.Engine, self.root = Engine, root
        self.out = None
        self.created = {}  # id(node) -> Place of the line that created it
        self.keep = []  # every node of the graph, held so that ids stay unique
        self.made = []  # every node the forward pass made, in the order it made them
        self.made_by = {}  # id(node) -> the program op whose method made it (x / y's inner x * y**-1 too)
        self.case_program, self.program_nodes = None, None
        self.mutated = None  # (node index, before, after) when a program op changed an earlier node's data
        self.point = ()
        self.upstream = {}  # id(node) -> its gradient after the real backward pass

    def program(self, program, point):
        """Run the program forward and backward; a Cause if that raised, else None."""
        self.point, self.case_program = tuple(point), program
        nodes = []
        try:
            with Creations(self):
                nodes.extend(self.Engine(x) for x in point)
                datas = [n.data for n in nodes]
                for ins in program.instrs:
                    made = len(self.made)
                    evaluate_one(ins, nodes)
                    self.made_by.update((id(v), ins.op) for v in self.made[made:])
                    if not graph.is_node(nodes[-1]):  # the ops that would trip over it are not at fault
                        self.program_nodes = nodes
                        return self.not_a_node(program, len(nodes) - 1)
                    datas.append(nodes[-1].data)
                    if self.mutated is None and len(nodes) <= MUTATION_CHECK:
                        for j in range(len(nodes) - 1):
                            now = getattr(nodes[j], "data", None)
                            if nodes[j] is nodes[-1] or now is not datas[j] and not same(now, datas[j]):
                                self.mutated = (len(nodes) - 1, j, datas[j], now)
                                break
        except BaseException as e:
            if not isinstance(e, Exception | RecursionError):
                raise
            self.program_nodes = nodes
            if self.mutated is not None:  # an op changed a node under the later ones: what raised after is its fault
                return self.mutation(program)
            return self._raised(e, "forward", getattr(program.instrs[len(nodes) - program.n_inputs], "op", None)
                                if len(nodes) >= program.n_inputs and len(nodes) < program.n_nodes else None)
        self.program_nodes = nodes
        self.out = nodes[-1]
        # every node of the program, the dead code too: a wrong value there is a finding as well
        self.keep = graph.nodes(*nodes) if graph.has_graph(self.out) else list(nodes)
        return self._backward()

    def mlp(self, spec, through_nn):
        self.point = tuple(x for row in spec.X for x in row)
        try:
            with Creations(self):
                params = nn_model(spec) if through_nn else engine_model(spec, self.Engine)
                _, loss = engine_loss(spec, params)
        except BaseException as e:
            if not isinstance(e, Exception | RecursionError):
                raise
            return self._raised(e, "forward", None)
        self.out = loss
        self.keep = graph.nodes(loss) if graph.has_graph(loss) else [loss]
        return self._backward()

    def _backward(self):
        try:
            self.out.backward()
        except BaseException as e:
            if not isinstance(e, Exception | RecursionError):
                raise
            return self.bad_data() or self._rule_that_raises() or self._raised(e, "backward", None)
        self.upstream = {id(v): as_float(getattr(v, "grad", None)) for v in self.keep}
        return None
