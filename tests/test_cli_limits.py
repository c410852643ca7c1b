"""Numbers out of range are one line naming the flag, exit 2, before any work (no traceback, no hang, no default)."""

import pytest

from dml_keras.cli import main


@pytest.mark.parametrize("argv, message", [
    (["train-degradation", "P", "--out", "O", "--steps", "-5"], "--steps must be at least 1, not -5"),
    (["train-degradation", "P", "--out", "O", "--steps-per-epoch", "0"], "--steps-per-epoch must be at least 1"),
    (["train-degradation", "P", "--out", "O", "--batch-size", "-1"], "--batch-size must be at least 1"),
    (["train-sr", "P", "--out", "O", "--steps", "-3"], "--steps must be at least 1, not -3"),
    (["train-sr", "P", "--out", "O", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["train-sr", "P", "--out", "O", "--patch-size", "0"], "--patch-size must be at least 1"),
    (["train-sr", "P", "--out", "O", "--learning-rate", "0"], "--learning-rate must be above 0"),
    (["train-sr", "P", "--out", "O", "--ema-decay", "1"], "--ema-decay must be at least 0 and below 1"),
    (["train-sr", "P", "--out", "O", "--synthetic-fraction", "1.5"], "--synthetic-fraction must be at least 0 and at most 1"),
    (["train-sr", "P", "--out", "O", "--d-warmup", "-1"], "--d-warmup must be at least 0"),
    (["synthesize", "bicubic", "H", "--out", "O", "--scale", "0"], "--scale must be at least 2, not 0"),
    (["synthesize", "bicubic", "H", "--out", "O", "--scale", "-4"], "--scale must be at least 2, not -4"),
    (["synthesize", "bicubic", "H", "--out", "O", "--tile", "0"], "--tile must be at least 1"),
    (["upscale", "M", "I", "--out", "O", "--tile", "0"], "--tile must be at least 1"),
    (["evaluate-sr", "M", "P", "--crop-border", "-3"], "--crop-border must be at least 0, not -3"),
    (["compare", "M", "--images", "I", "--out", "O", "--crop", "0"], "--crop must be at least 1"),
    (["align", "C", "--out", "O", "--scale", "0"], "--scale must be at least 2"),
    (["align", "C", "--out", "O", "--tile", "0"], "--tile must be at least 1"),
])
def test_a_number_out_of_range_is_one_line_naming_the_flag(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / a) if a in ("P", "O", "H", "I", "C") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}" + err[len("error: ") + len(message):]
    assert err.count("\n") == 1
    assert not (tmp_path / "O").exists()  # nothing was started


@pytest.mark.parametrize("flags, message", [
    (["--shard", "abc"], "--shard must look like I/N"),
    (["--shard", "3/2"], "--shard I/N needs 0 <= I < N"),
    (["--noise-sigma", "abc"], "--noise-sigma must be a sigma >= 0"),
    (["--noise-sigma", "-5"], "--noise-sigma must be a sigma >= 0"),
    (["--noise-sigma", "5,1"], "--noise-sigma must be a sigma >= 0"),
])
def test_shard_and_noise_flags_that_do_not_parse_are_one_line(tmp_path, capsys, photos, flags, message):
    from dml_keras.data.io import write_image

    write_image(tmp_path / "clean" / "coffee.png", photos["coffee"][:32, :32])
    assert main(["synthesize", "bicubic", str(tmp_path / "clean"), "--out", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["evaluate-sr", "evaluate-degradation"])
def test_a_json_target_that_cannot_be_written_is_refused_before_the_evaluation(tmp_path, capsys, command):
    (tmp_path / "a_file").write_text("x")
    model = "vdsr_bicubic_x4" if command == "evaluate-sr" else "bicubic"
    # the pairs do not exist: a refusal that names them would mean the evaluation had started
    assert main([command, model, str(tmp_path / "no_pairs"), "--json", str(tmp_path / "a_file" / "s.json")]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "a_file' is a file, not a folder" in err and err.count("\n") == 1
