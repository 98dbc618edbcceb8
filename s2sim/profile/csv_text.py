"""Numeric columns to CSV text in bulk, so writing ``timesteps.csv`` costs little beside a run.

Formatting cell by cell in Python (the ``csv`` module calling ``str``/``repr`` per value) costs a
fraction of a microsecond per cell, which added up to 4-8 % of a gsc training run. Here a column of
whole numbers becomes ASCII digits with a few numpy operations on a [digits, rows] byte matrix; only
a column holding fractions goes through ``repr`` (the shortest text that reads back as the same
double), once per distinct value. The columns' byte matrices are laid side by side with the
separators, zero-padded, and the padding is dropped in one step, a block of rows at a time so
memory stays bounded on long runs.

The text is the one the ``csv`` module would write for the same Python numbers (``str`` of an
integer, ``repr`` of a float; a float column whose values are all whole numbers below 2**53 is
written as integers, the same numbers), with ``\\n`` line ends.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

#: rows formatted per block: bounds the byte matrices to some tens of MB whatever the run length
ROWS_PER_BLOCK = 1 << 16
_EXACT_INT_LIMIT = 2 ** 53  # float64 holds every integer below this exactly
_COMMA, _NEWLINE, _MINUS, _ZERO = ord(","), ord("\n"), ord("-"), ord("0")


def writes_as_integers(values: np.ndarray) -> bool:
    """Whether a column is written as integers: an integer dtype, or floats all whole and < 2**53."""
    if values.dtype.kind in "iub":
        return True
    return bool(np.all(np.abs(values) < _EXACT_INT_LIMIT) and np.array_equal(values, np.trunc(values)))


def integer_text(values: np.ndarray) -> np.ndarray:
    """[n, width] uint8: the decimal text of each integer, zero bytes where it is shorter than width."""
    if values.dtype.kind == "u":
        magnitude, negative = values.astype(np.uint64), np.zeros(len(values), bool)
    else:
        as_int = values.astype(np.int64)
        negative = as_int < 0
        # -(v + 1) cannot overflow, and fits uint64 with the 1 added back
        magnitude = np.where(negative, -(as_int + 1), as_int).astype(np.uint64) + negative
    top = int(magnitude.max()) if magnitude.size else 0
    if top < 2 ** 32:  # narrower integers divide faster
        magnitude = magnitude.astype(np.uint32)
    n_digits = len(str(top))
    digits = np.empty((n_digits, len(magnitude)), np.uint8)  # digit-major: each pass writes one row
    rest = magnitude
    for j in range(n_digits - 1, -1, -1):  # last digit first
        quotient = rest // 10
        digits[j] = rest - quotient * 10
        rest = quotient
    shown = np.logical_or.accumulate(digits != 0, axis=0)  # no leading zeros...
    shown[-1] = True  # ...but "0" keeps its digit
    digits += _ZERO
    digits *= shown
    text = digits.T
    if negative.any():
        sign = np.where(negative, np.uint8(_MINUS), np.uint8(0))[:, None]
        text = np.concatenate([sign, text], axis=1)
    return text


def float_text(values: np.ndarray) -> np.ndarray:
    """[n, width] uint8: ``repr`` of each value (exact round trip), zero-padded.

    ``repr`` runs once per distinct value: per-timestep finish times repeat a lot (PEs running
    the same program finish together), and ``repr`` is the one per-value Python call left.
    """
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)  # keeps -0.0 apart from 0.0
    distinct, where = np.unique(bits, return_inverse=True)
    text = np.array(list(map(repr, distinct.view(np.float64).tolist())), dtype=np.bytes_)
    return text.view(np.uint8).reshape(len(distinct), text.dtype.itemsize)[where.ravel()]


def column_text(values: np.ndarray, as_integers: bool) -> np.ndarray:
    return integer_text(values) if as_integers else float_text(values)


def csv_block(columns: Sequence[np.ndarray], as_integers: Sequence[bool]) -> bytes:
    """The CSV text of equal-length columns (one block of rows), each line ending in ``\\n``."""
    texts = [column_text(c, i) for c, i in zip(columns, as_integers)]
    n = len(columns[0])
    width = sum(t.shape[1] + 1 for t in texts)
    out = np.zeros((n, width), np.uint8)
    at = 0
    for k, text in enumerate(texts):
        out[:, at:at + text.shape[1]] = text
        at += text.shape[1]
        out[:, at] = _NEWLINE if k == len(texts) - 1 else _COMMA
        at += 1
    flat = out.ravel()
    return np.compress(flat != 0, flat).tobytes()


def write_numeric_csv(path: Path, header: Sequence[str], columns: Sequence[np.ndarray]) -> None:
    """Write a header line and equal-length numeric columns to ``path``.

    Whether a column is written as integers is decided once over the whole column, so a column
    reads back the same whichever block a value falls in.
    """
    as_integers = [writes_as_integers(c) for c in columns]
    n = len(columns[0]) if columns else 0
    with open(path, "wb") as fh:
        fh.write((",".join(header) + "\n").encode())
        for start in range(0, n, ROWS_PER_BLOCK):
            fh.write(csv_block([c[start:start + ROWS_PER_BLOCK] for c in columns], as_integers))
