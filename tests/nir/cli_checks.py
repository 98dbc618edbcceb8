"""A check the NIR CLI tests share (a module of its own: test modules import it by name)."""


def assert_one_line_error(res, *words):
    """``res`` (a CliRunner result) is exit 2 with one line, ``error: ...``, holding every one of ``words``."""
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    for w in words:
        assert w in lines[0], (w, lines[0])
