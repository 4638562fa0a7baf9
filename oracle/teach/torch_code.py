"""The program as standalone PyTorch float64 code, for `compare` to print beside its table."""
from oracle.ops import OPS
from oracle.program import float_source


def _comment(text):
    """A user's source line as a comment: printable characters only, so it cannot drive a terminal."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 100 else text[:97] + "..."


def torch_source(parsed):
    """The program as standalone PyTorch float64 code, one line per op from the op table's templates
    (the same text the backends run). Every name is rebound, never updated in place: torch's `c += x`
    would modify c in place, which autograd refuses for a leaf and may refuse for a saved tensor."""
    p, names, n0 = parsed.program, parsed.code_names, parsed.program.n_inputs
    feeds = p.live()
    shown = set(parsed.variables.values())
    out = [f"# The program in PyTorch float64 (printed by `python -m oracle compare`); output: {parsed.output}",
           "import torch", ""]
    for i, x in enumerate(parsed.inputs):
        out.append(f"{names[i]} = torch.tensor({float_source(x)}, dtype=torch.float64, requires_grad=True)")
    line, noted = None, False
    for k in range(n0, p.n_nodes):
        if parsed.lines[k] != line:
            line = parsed.lines[k]
            out.append(f"# line {line}: {_comment(parsed.sources.get(line, ''))}")
        ins = p.instrs[k - n0]
        out.append(f"{names[k]} = {OPS[ins.op].source([names[a] for a in ins.args], ins.c)}")
        if k in shown and feeds[k]:
            out.append(f"{names[k]}.retain_grad()" + ("" if noted else "  # torch keeps .grad of leaves only"))
            noted = True
    out += [f"{names[-1]}.backward()", "", "# variable, data, grad"]
    for name, k in parsed.variables.items():
        if feeds[k]:
            out.append(f"print({name!r}, {names[k]}.item(), {names[k]}.grad.item())")
        else:
            out.append(f"print({name!r}, {names[k]}.item(), None)  # it does not feed {parsed.output}: no gradient")
    return "\n".join(out) + "\n"
