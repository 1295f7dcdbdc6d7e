"""Bad input gives one clear error line (exit 2 for usage errors), never a traceback, and never
touches existing results."""

import json
import shutil
import subprocess
import sys

import filelock
import pytest
import torch

from conftest import QUICK_RUN, TINY_RUN

from lottery.cli import build_parser, hparams_from_args, main

QUICK = QUICK_RUN


def run_cli(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def experiment_folder(tmp_path, argv):
    args = build_parser().parse_args(argv + ["--out", str(tmp_path)])
    return tmp_path / hparams_from_args(args).name()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--model", "resnet9000"], "invalid choice: 'resnet9000'"),
        (["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["--preset", "nope"], "invalid choice: 'nope'"),
        (["--prune-fc", "1.0"], "impossible"),
        (["--prune-output", "-0.1"], "impossible"),
        (["--levels", "-1"], "must be 0 or more"),
        (["--iterations", "-5"], "must be a positive integer"),
        (["--iterations", "ten"], "invalid"),
        (["--reinit-draws", "1", "--reinit-iterations", "0"], "must be a positive integer"),
    ],
)
def test_usage_errors_exit_2(capsys, tmp_path, argv, message):
    code, err = run_cli(capsys, QUICK + argv + ["--out", str(tmp_path)])
    assert code == 2 and message in err
    assert not any(tmp_path.iterdir())  # nothing was created


def test_impossible_rewind_is_a_usage_error(capsys, tmp_path):
    code, err = run_cli(capsys, QUICK + ["--rewind", "40", "--out", str(tmp_path)])
    assert code == 2 and "rewind iteration 40" in err


def test_missing_data_files(capsys, tmp_path):
    code, err = run_cli(
        capsys,
        QUICK + ["--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "out")],
    )
    assert code == 1 and "missing data file" in err and "--download" in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_and_truncated_data_files(capsys, tmp_path, fashion_dir):
    data = tmp_path / "data"
    shutil.copytree(fashion_dir, data)
    target = data / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])  # truncated
    code, err = run_cli(
        capsys, QUICK + ["--dataset", "fashion-mnist", "--data-dir", str(data), "--out", str(tmp_path / "out")]
    )
    assert code == 1 and "corrupt or truncated data file" in err and str(target) in err
    assert "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05" in err


def test_results_folder_from_an_incompatible_version_is_left_alone(capsys, tmp_path):
    folder = experiment_folder(tmp_path, QUICK)
    folder.mkdir(parents=True)
    old = {"format_version": 999, "hparams": {}}
    (folder / "hparams.json").write_text(json.dumps(old))
    code, err = run_cli(capsys, QUICK + ["--out", str(tmp_path)])
    assert code == 1 and "incompatible lottery version" in err
    assert json.loads((folder / "hparams.json").read_text()) == old
    assert sorted(p.name for p in folder.iterdir()) == ["hparams.json"]


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("I am not a folder")
    code, err = run_cli(capsys, QUICK + ["--out", str(blocker / "results")])
    assert code == 1 and "cannot write results" in err and "--out" in err
    assert blocker.read_text() == "I am not a folder"


def test_second_process_on_the_same_experiment_is_refused(capsys, tmp_path):
    folder = experiment_folder(tmp_path, QUICK)
    folder.mkdir(parents=True)
    with filelock.FileLock(str(folder / ".lock")):  # stands in for another running process
        code, err = run_cli(capsys, QUICK + ["--out", str(tmp_path)])
    assert code == 1 and "another lottery process is already running" in err
    assert not list(folder.glob("trial_*"))


def refused(capsys, out, argv):
    """Run with ``argv``; the run must be refused with one line and leave no experiment folder."""
    code, err = run_cli(capsys, QUICK + argv + ["--out", str(out)])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists() or not any(out.iterdir())  # no experiment folder (nor anything else)
    return err


@pytest.mark.parametrize(
    "argv,message",
    [
        # impossible values, checked before anything is written
        (["--lr", "nan"], "--lr nan must be a positive finite number"),
        (["--lr", "inf"], "--lr inf must be a positive finite number"),
        (["--optimizer", "sgd", "--momentum", "-1"], "--momentum -1.0 must be a finite number, 0 or more"),
        (["--device", "foo"], "--device 'foo' is not a device"),
        (["--batch-size", "100000"], "batch size 100000 must be between 1 and the training set size 1200"),
        (["--validation-size", "1500"], "validation size 1500 must be between 1 and 1499"),
        (["--ignore", "hidden.7.weight"], "--ignore names unknown layers ['hidden.7.weight']"),
        (["--prune-strategy", "global", "--prune-global-kinds", "conv,bogus"], "unknown kinds of layer ['bogus']"),
        # a setting the run does not use is refused, not made into a new experiment
        (["--dropout", "0.5"], "lenet_300_100 has no dropout layers"),
        (["--momentum", "0.5"], "--momentum 0.5 is unused with --optimizer adam"),
        (["--prune-conv", "0.1"], "--prune-conv 0.1 is unused: the model has no conv layers"),
        (["--prune-global", "0.3"], "--prune-global 0.3 is unused by --prune-strategy layerwise"),
        (["--prune-strategy", "global", "--prune-fc", "0.3"], "--prune-fc 0.3 is unused by --prune-strategy global"),
        # a strategy that would prune nothing
        (["--prune-strategy", "global", "--prune-global-kinds", "conv"], "global pruning would prune nothing"),
        (["--prune-strategy", "global", "--prune-global", "0"], "global pruning would prune nothing"),
        (["--prune-fc", "0", "--prune-output", "0"], "layer-wise pruning would prune nothing"),
        (
            ["--ignore", "hidden.0.weight,hidden.1.weight", "--prune-output", "0"],
            "layer-wise pruning would prune nothing",
        ),
        # a precision the device cannot train in, branch levels the run does not have
        (["--device", "cpu", "--precision", "fp16"], "fp16 training needs a CUDA device (got cpu)"),
        (["--reinit-draws", "1", "--control-levels", "0"], "control levels 0 are outside 1..1"),
        (["--oneshot", "--control-levels", "7"], "control levels 7 are outside 1..1"),
        (["--oneshot", "0"], "one-shot levels [0] are outside 1..1"),
        (["--oneshot", "7"], "one-shot levels [7] are outside 1..1"),
        # flags that would silently run nothing
        (["--reinit-draws", "1", "--control-levels", ""], "--control-levels: names no level"),
        (["--reinit-draws", "1", "--control-levels", ","], "--control-levels: names no level"),
        (["--oneshot", ""], "--oneshot: names no level"),
        (["--control-levels", "1"], "--control-levels 1 limits the controls, but none is requested"),
        (["--reinit-iterations", "80"], "--reinit-iterations 80 is unused: add --reinit-draws N"),
        (
            ["--random-draws", "1", "--random-iterations", "40"],
            "--random-iterations 40 is the experiment's --iterations",
        ),
        (
            ["--rewind", "20", "--reinit-draws", "1", "--reinit-iterations", "10"],
            "--reinit-iterations 10 ends before the control starts, at iteration 20",
        ),
    ],
)
def test_bad_settings_are_refused_before_any_folder_exists(capsys, tmp_path, argv, message):
    err = refused(capsys, tmp_path / "out", argv)
    assert message in err


def test_cuda_without_cuda_is_refused(capsys, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert "no usable CUDA GPU" in refused(capsys, tmp_path / "out", ["--device", "cuda"])


def test_instability_on_cuda_without_cuda_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["instability", str(tmp_path / "experiment"), "--level", "1", "--device", "cuda"]
    code, err = run_cli(capsys, [*argv, "--out", str(tmp_path / "out")])
    assert code == 2 and err == "lottery: error: --device cuda: this machine has no usable CUDA GPU; use --device cpu\n"
    assert not any(tmp_path.iterdir())


def test_data_dir_that_is_a_file_is_refused(capsys, tmp_path):
    data = tmp_path / "data.gz"
    data.write_bytes(b"not a folder")
    assert "is a file, not a folder" in refused(capsys, tmp_path / "out", ["--data-dir", str(data)])


def test_missing_data_leaves_no_experiment_folder(capsys, tmp_path):
    out = tmp_path / "out"
    code, err = run_cli(
        capsys, QUICK + ["--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "none"), "--out", str(out)]
    )
    assert code == 1 and "missing data file" in err
    assert not out.exists()


def test_an_unused_setting_at_its_default_is_the_same_experiment():
    parse = build_parser().parse_args
    plain = hparams_from_args(parse(QUICK))
    assert hparams_from_args(parse(QUICK + ["--momentum", "0.9", "--prune-global", "0.2"])) == plain


def metrics_of(out):
    return [json.loads(p.read_text()) for p in sorted(out.rglob("metrics.json"))]


def test_global_pruning_on_lenet_ranks_the_hidden_layers_not_the_output(capsys, tmp_path):
    code, _ = run_cli(capsys, QUICK + ["--prune-strategy", "global", "--prune-global", "0.3", "--out", str(tmp_path)])
    assert code == 0
    level_1 = next(m for m in metrics_of(tmp_path) if m["level"] == 1)
    ranked, output = 784 * 300 + 300 * 100, 100 * 10
    assert level_1["density"] == (ranked + output - round(0.3 * ranked)) / (ranked + output)
    assert level_1["layer_density"]["output.weight"] == 1.0
    assert level_1["layer_density"]["hidden.0.weight"] < 1.0 and level_1["layer_density"]["hidden.1.weight"] < 1.0


def test_levels_0_trains_only_the_dense_network(capsys, tmp_path):
    code, _ = run_cli(capsys, [*QUICK[:-3], "--levels", "0", "--no-progress", "--out", str(tmp_path)])
    assert code == 0
    assert [(m["branch"], m["level"], m["density"]) for m in metrics_of(tmp_path)] == [("ticket", 0, 1.0)]


@pytest.mark.parametrize("native", [False, True])
def test_bf16_where_it_is_emulated_gets_a_one_line_warning(capsys, tmp_path, monkeypatch, native):
    from lottery.training import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device: native)
    argv = [
        *TINY_RUN,
        "--levels",
        "0",
        "--eval-precision",
        "bf16",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == (
        []
        if native
        else [
            "lottery: warning: --eval-precision bf16: this CPU has no native bf16 matmuls (AVX-512-BF16 or AMX), "
            "so they are emulated and slower than fp32; results are unaffected"
        ]
    )


@pytest.mark.parametrize("native, expected", [(False, "fp32"), (True, "bf16")])
def test_benchmarks_evaluate_in_bf16_only_where_it_is_native(monkeypatch, native, expected):
    from lottery.training import precision

    monkeypatch.setattr(precision.torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    assert precision.fastest_eval_precision(torch.device("cpu")) == expected
    assert precision.fastest_eval_precision(torch.device("meta")) == "bf16"  # any accelerator: native


@pytest.mark.parametrize("argv", [["--help"], ["presets"], ["show", "--help"], ["compare", "--help"]])
def test_commands_that_train_nothing_start_without_importing_torch(argv):
    """Importing torch takes most of a second or more; listing presets or reading help should not wait for it."""
    code = f"import sys; from lottery.cli import main\ntry: main({argv!r})\nexcept SystemExit: pass\n"
    code += "assert 'torch' not in sys.modules, 'torch was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
