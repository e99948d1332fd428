from provable_mha.cli import main


def test_demo_runs(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "conditions" in out and "forward pass" in out


def test_bad_argument_exit_code(capsys):
    assert main(["demo", "--m", "0"]) == 2
    assert "m must be >= 1" in capsys.readouterr().err
