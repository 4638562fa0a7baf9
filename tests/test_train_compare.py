"""`python -m oracle train-compare`: micrograd and PyTorch trained from the same weights stay in sync
(SGD, SGD with momentum, Adam; the moons demo and other MLPs), a planted wrong loss falls out of sync,
the plot is a real PNG, and bad usage is one line and exit 2."""
import sys

import pytest

torch = pytest.importorskip("torch")

from micrograd import losses  # noqa: E402
from oracle.__main__ import main  # noqa: E402
from oracle.teach import train_compare as T  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    """main() in this process (torch loads once for the file): exit status, stdout, stderr."""
    try:
        code = main(["train-compare", *argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def step_lines(out):
    return [line for line in out.splitlines() if line.strip()[:1].isdigit()]


def test_small_mlp_stays_in_sync(capsys):
    code, out, err = run(capsys, "--layers", "3,4,1", "--act", "tanh", "--loss", "mse", "--lr", "0.1", "--steps", "5")
    assert code == 0, out + err
    assert len(step_lines(out)) == 5 and "In sync" in out


def test_moons_demo_three_steps_in_sync_with_the_notebooks_first_loss_and_a_png(capsys, tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    plot = tmp_path / "moons.png"
    code, out, err = run(capsys, "--steps", "3", "--plot", str(plot))
    assert code == 0, out + err
    assert plot.read_bytes()[:8] == PNG
    first = step_lines(out)[0].split()
    assert first[2] == first[3] == "0.8958441028683222"  # demo.ipynb: step 0 loss 0.8958441028683222


@pytest.mark.parametrize("flags", [
    ["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9"],
    ["--optimizer", "sgd", "--momentum", "0.5", "--weight-decay", "0.01", "--act", "sigmoid"],
    ["--optimizer", "adam", "--lr", "0.05"],
    ["--optimizer", "adam", "--betas", "0.8,0.99", "--eps", "1e-6", "--weight-decay", "0.1", "--loss", "mse"],
], ids=["sgd-momentum", "sgd-momentum-decay", "adam", "adam-betas-decay"])
def test_optimizers_stay_in_sync(capsys, flags):
    code, out, err = run(capsys, "--layers", "3,6,4,1", "--steps", "8", "--samples", "30", *flags)
    assert code == 0, out + err
    assert "In sync" in out


def test_a_wrong_loss_falls_out_of_sync_and_exits_1(capsys, monkeypatch):
    real = losses.mse
    monkeypatch.setattr(losses, "mse", lambda p, t: real(p, t) * (1 + 1e-7))
    code, out, _ = run(capsys, "--layers", "3,4,1", "--loss", "mse", "--lr", "0.1", "--steps", "2")
    assert code == 1 and "OUT OF SYNC from step 0" in out


def test_config_defaults_are_the_demo():
    cfg = T.Config()
    assert (cfg.layers, cfg.act, cfg.loss, cfg.l2, cfg.steps, cfg.seed) == ((2, 16, 16, 1), "relu", "hinge", 1e-4,
                                                                           100, 1337)
    assert [cfg.lr_at(k) for k in (0, 50, 99, 150)] == [1.0, 0.55, 1.0 - 0.9 * 99 / 100, pytest.approx(0.1)]


@pytest.mark.parametrize("argv, says", [
    (["--layers", "2,x,1"], "--layers 2,x,1"),
    (["--layers", "2,4,2"], "width 1"),
    (["--layers", "2"], "at least one layer"),
    (["--layers", "2,1000,1000,1"], "parameters"),
    (["--steps", "0"], "--steps 0"),
    (["--steps", "many"], "invalid int value"),
    (["--lr", "-1"], "--lr -1.0"),
    (["--lr", "nan"], "--lr nan"),
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum is for --optimizer sgd"),
    (["--betas", "0.9,0.99"], "--betas is for --optimizer adam"),
    (["--optimizer", "adam", "--betas", "0.9,1.5"], "two numbers in [0, 1)"),
    (["--act", "gelu"], "invalid choice"),
    (["--plot", "out.gif"], ".png, .svg or .pdf"),
])
def test_bad_usage_exits_2_with_one_line(capsys, argv, says):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.split(":")[0].endswith("train-compare") and err.count("\n") == 1 and says in err, err


@pytest.mark.parametrize("module, distribution", [("sklearn", "scikit-learn"), ("matplotlib", "matplotlib")])
def test_without_its_extra_exits_2_naming_what_to_install(capsys, monkeypatch, module, distribution):
    monkeypatch.setitem(sys.modules, module, None)  # import MODULE now raises ImportError
    code, out, err = run(capsys, "--steps", "1")
    assert code == 2 and out == ""
    assert err == (f"python -m oracle train-compare: needs {distribution}, which is not installed: "
                   "pip install 'micrograd-oracle[train]'\n")
