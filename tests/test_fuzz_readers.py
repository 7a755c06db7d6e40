"""Fuzzing the file readers: random, truncated and bit-flipped bytes end in InputError.

Whatever the bytes, ``read_idx`` and ``read_libsvm`` either return arrays that
agree with what the file states, or raise ``ncg.errors.InputError`` (the one
clear line at the entry points); any other exception fails the test.
"""

import gzip
import struct

import numpy as np
import pytest

from ncg import data
from ncg.errors import InputError

RNG_SEED = 20261122


def _idx_bytes() -> bytes:
  images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
  return struct.pack('>4I', 2051, 3, 4, 5) + images.tobytes()


def _libsvm_bytes() -> bytes:
  return b''.join(b'%d 1:1 %d:1 %d:1\n' % (i % 2, 2 + i % 3, 6 + i % 4)
                  for i in range(12))


def _variants(valid: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
  """Every truncation of ``valid``, random bytes, and random byte flips."""
  out = [valid[:n] for n in range(len(valid))]
  out += [rng.integers(0, 256, rng.integers(0, 80), dtype=np.uint8).tobytes()
          for _ in range(count)]
  for _ in range(count):
    flipped = bytearray(valid)
    for i in rng.integers(0, len(valid), rng.integers(1, 4)):
      flipped[i] ^= 1 << int(rng.integers(8))
    out.append(bytes(flipped))
  return out


def _outcome(read, path):
  try:
    return read(path)
  except InputError as e:
    assert str(e) and '\n' not in str(e)  # one line
    return None


@pytest.mark.parametrize('compressed', [False, True])
def test_idx_reader_never_fails_otherwise(tmp_path, compressed):
  rng = np.random.default_rng(RNG_SEED)
  valid = _idx_bytes()
  cases = _variants(gzip.compress(valid, mtime=0) if compressed else valid, rng, 150)
  if compressed:  # also well-formed gzip around damaged IDX content
    cases += [gzip.compress(v, mtime=0) for v in _variants(valid, rng, 50)]
  path = tmp_path / ('f-idx3-ubyte.gz' if compressed else 'f-idx3-ubyte')
  read, refused = 0, 0
  for case in cases:
    path.write_bytes(case)
    result = _outcome(data.read_idx, str(path))
    if result is None:
      refused += 1
      continue
    read += 1
    raw = gzip.decompress(case) if compressed else case
    ndim = raw[3]
    shape = struct.unpack(f'>{ndim}I', raw[4:4 + 4 * ndim])
    assert result.dtype == np.uint8 and result.shape == shape
    assert result.tobytes() == raw[4 + 4 * ndim:]
  assert refused > len(cases) // 2  # most damage is detected...
  assert read >= 1  # ...and flips in the pixel values still read


def test_idx_truncated_gzip_names_the_problem(tmp_path):
  path = tmp_path / 'train-images-idx3-ubyte.gz'
  path.write_bytes(gzip.compress(_idx_bytes())[:-9])
  with pytest.raises(InputError, match='damaged or truncated gzip'):
    data.read_idx(str(path))
  path.write_bytes(b'')
  with pytest.raises(InputError, match='damaged or truncated gzip|empty'):
    data.read_idx(str(path))


@pytest.mark.parametrize('compressed', [False, True])
def test_libsvm_reader_never_fails_otherwise(tmp_path, compressed):
  rng = np.random.default_rng(RNG_SEED + 1)
  valid = _libsvm_bytes()
  cases = _variants(gzip.compress(valid, mtime=0) if compressed else valid, rng, 100)
  path = tmp_path / ('f.libsvm.gz' if compressed else 'f.libsvm')
  for case in cases:
    path.write_bytes(case)
    result = _outcome(lambda p: data.read_libsvm(p, 10), str(path))
    if result is not None:
      assert result.x.shape == (len(result.y), 10)
      assert np.all(np.isfinite(result.x)) and result.y.min() >= 0


def test_empty_and_short_libsvm_files_are_clear_errors(tmp_path):
  path = tmp_path / 'mushrooms.libsvm'
  path.write_bytes(b'')
  with pytest.raises(InputError, match='no examples'):
    data.read_libsvm(str(path), 112)
  path.write_bytes(_libsvm_bytes())
  with pytest.raises(InputError, match='needs more'):
    data.load('mushrooms', path=str(path))
