"""Property tests (hypothesis) of the data readers and config validation.

Round trips: any array written as IDX (raw or gzip) or any binary matrix
written as LIBSVM reads back unchanged; bars and stripes and epoch batches
have their defining structure for every size. Validation: a TrainConfig is
accepted exactly when its fields satisfy the documented constraints, and
refused with InputError (never another exception) otherwise. The fuzz tests
of damaged files are in tests/test_fuzz_readers.py.
"""

from __future__ import annotations

import gzip
import math
import struct

from hypothesis import given, settings, strategies as st
import jax
import numpy as np
import pytest

from ncg import data
from ncg import train
from ncg.errors import InputError

FAST = settings(max_examples=40, deadline=None, database=None)


@FAST
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3),
       compress=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_idx_round_trip(tmp_path_factory, shape, compress, seed):
  array = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
  raw = (b'\x00\x00\x08' + bytes([len(shape)])
         + struct.pack(f'>{len(shape)}I', *shape) + array.tobytes())
  path = tmp_path_factory.mktemp('idx') / ('a.idx.gz' if compress else 'a.idx')
  path.write_bytes(gzip.compress(raw) if compress else raw)
  got = data.read_idx(str(path))
  assert got.dtype == np.uint8 and got.shape == tuple(shape)
  np.testing.assert_array_equal(got, array)


@FAST
@given(header=st.binary(min_size=4, max_size=16), body=st.binary(max_size=64))
def test_idx_reads_what_its_header_states_or_refuses(tmp_path_factory, header,
                                                     body):
  path = tmp_path_factory.mktemp('idx') / 'b.idx'
  path.write_bytes(header + body)
  try:
    got = data.read_idx(str(path))
  except InputError:
    return
  ndim = header[3]
  assert header[:3] == b'\x00\x00\x08' and ndim >= 1
  assert got.shape == struct.unpack(f'>{ndim}I', (header + body)[4:4 + 4 * ndim])
  assert got.size == len(header + body) - 4 - 4 * ndim == math.prod(got.shape)


@FAST
@given(rows=st.integers(1, 8), cols=st.integers(1, 6),
       seed=st.integers(0, 2 ** 16))
def test_libsvm_round_trip(tmp_path_factory, rows, cols, seed):
  rng = np.random.default_rng(seed)
  x = (rng.random((rows, cols)) < 0.5).astype(np.float32)
  y = rng.choice([-3, 1, 7], rows)
  lines = [' '.join([str(label)] + [f'{j + 1}:1' for j in np.flatnonzero(r)])
           for label, r in zip(y, x)]
  path = tmp_path_factory.mktemp('svm') / 'a.libsvm'
  path.write_text('\n'.join(lines) + '\n')
  split = data.read_libsvm(str(path), num_features=cols)
  np.testing.assert_array_equal(split.x, x)
  np.testing.assert_array_equal(split.y, np.unique(y, return_inverse=True)[1])


@settings(max_examples=4, deadline=None, database=None)
@given(n=st.integers(2, 5))
def test_bars_and_stripes_structure(n):
  images = data.bars_and_stripes(n)
  assert images.shape == (2 ** (n + 1) - 2, n * n)
  assert len({r.tobytes() for r in images}) == len(images)
  for image in images.reshape(-1, n, n):
    bars = np.all(image == image[:, :1])       # every row constant
    stripes = np.all(image == image[:1, :])    # every column constant
    assert bars or stripes


@settings(max_examples=5, deadline=None, database=None)  # each shape compiles
@given(n=st.integers(1, 30), batch=st.integers(1, 10), seed=st.integers(0, 99))
def test_epoch_batches_are_a_permutation_cut_into_full_batches(n, batch, seed):
  x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
  out = np.asarray(data.epoch_batches(jax.random.key(seed), x, batch))
  assert out.shape == (n // batch, batch, 2)
  ids = out[..., 0].reshape(-1)
  assert len(set(ids.tolist())) == len(ids)     # no example twice
  assert set(ids.tolist()) <= set(range(n))


NUMBERS = st.one_of(st.integers(-3, 5), st.floats(allow_nan=True,
                                                   allow_infinity=True))


@FAST
@given(k=st.one_of(st.integers(-2, 4), st.floats(0, 3)),
       lr=NUMBERS, strength_lr=st.one_of(st.none(), NUMBERS),
       momentum=NUMBERS,
       connectivity=st.sampled_from(['dense', 'fixed', 'ncg', 'nope', '']),
       optimizer=st.sampled_from(['sgd', 'momentum', 'adam', 'lbfgs']))
def test_train_config_accepts_exactly_the_valid_settings(
    k, lr, strength_lr, momentum, connectivity, optimizer):
  valid = (isinstance(k, int) and k >= 1 and lr > 0
           and (strength_lr is None or strength_lr >= 0)
           and 0 <= momentum < 1
           and connectivity in ('dense', 'fixed', 'ncg')
           and optimizer in train.OPTIMIZERS)
  kwargs = dict(k=k, learning_rate=lr, strength_learning_rate=strength_lr,
                momentum=momentum, connectivity=connectivity,
                optimizer=optimizer)
  if valid:
    config = train.TrainConfig(**kwargs)
    assert config.resolved_strength_learning_rate == (
        5 * lr if strength_lr is None else strength_lr)
  else:
    with pytest.raises(InputError):
      train.TrainConfig(**kwargs)
