"""ncg.data loaders on real files, TFDS mock data and generated sets."""

import gzip
import hashlib
import struct

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from ncg import data
from ncg.errors import InputError
from tests.conftest import shared_path


def test_embedded_digits_are_real_mnist_and_splits_deterministic():
  d = data.load('embedded')
  assert (d.train.x.shape, d.valid.x.shape, d.test.x.shape) == (
      (3500, 784), (500, 784), (1000, 784))
  assert d.image_shape == (28, 28) and d.num_classes == 10
  assert data.is_binary(d.train.x)
  assert 0.10 < d.train.x.mean() < 0.16  # MNIST's ink fraction is ≈ 0.13
  assert set(np.unique(d.train.y)) == set(range(10))
  again = data.load('embedded')
  np.testing.assert_array_equal(d.train.x, again.train.x)
  other_seed = data.load('embedded', seed=1)
  assert not np.array_equal(d.train.x, other_seed.train.x)
  np.testing.assert_array_equal(d.train.y, other_seed.train.y)


def test_binarizations():
  grey = data.load('embedded', binarization='none').train.x
  assert grey.min() == 0.0 and grey.max() == 1.0 and not data.is_binary(grey)
  thresholded = data.load('embedded', binarization='threshold').train.x
  np.testing.assert_array_equal(thresholded, grey > 0.5)
  stochastic = data.load('embedded').train.x
  # E[bit] = intensity: the mean over 2.7M pixels agrees to < 0.001.
  assert abs(stochastic.mean() - grey.mean()) < 1e-3
  assert np.all(stochastic[grey == 0] == 0) and np.all(stochastic[grey == 1] == 1)


def test_validation_size_moves_examples_out_of_train():
  d = data.load('embedded', validation_size=800)
  assert len(d.train.x) == 3200 and len(d.valid.x) == 800
  with pytest.raises(InputError, match='validation_size'):
    data.load('embedded', validation_size=5000)


def test_mnist_idx_real_files():
  d = data.load('mnist_idx', path=shared_path('mnist'), binarization='none')
  assert d.train.x.shape == (60000, 784) and d.test.x.shape == (10000, 784)
  np.testing.assert_array_equal(d.train.y[:5], [5, 0, 4, 1, 9])
  raw = (d.test.x * 255).round().astype(np.uint8).tobytes()
  header = struct.pack('>4I', 2051, 10000, 28, 28)
  assert hashlib.sha256(header + raw).hexdigest() == (
      '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7')


def test_idx_raw_and_gzip_files(tmp_path):
  images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
  for prefix, n in (('train', 2), ('t10k', 2)):
    body = struct.pack('>4I', 2051, n, 3, 3) + images.tobytes()
    (tmp_path / f'{prefix}-images-idx3-ubyte').write_bytes(body)
    with gzip.open(tmp_path / f'{prefix}-labels-idx1-ubyte.gz', 'wb') as f:
      f.write(struct.pack('>2I', 2049, n) + bytes([3, 7]))
  train, test = data.read_mnist_idx(str(tmp_path))
  np.testing.assert_allclose(train.x * 255, images.reshape(2, 9))
  np.testing.assert_array_equal(test.y, [3, 7])
  (tmp_path / 't10k-images-idx3-ubyte').write_bytes(b'\x00\x00\x08\x03' + b'\x00' * 5)
  with pytest.raises(InputError, match='header'):  # truncated
    data.read_mnist_idx(str(tmp_path))


def test_libsvm_real_files():
  m = data.load('mushrooms', path=shared_path('uci', 'mushrooms.libsvm'))
  assert m.train.x.shape == (2000, 112) and m.test.x.shape == (6124, 112)
  assert m.num_classes == 2 and data.is_binary(m.train.x)
  np.testing.assert_array_equal(m.train.x.sum(1), 21)  # 21 one-hot attributes
  c = data.load('connect4', path=shared_path('uci', 'connect-4-16k.libsvm.gz'))
  assert c.train.x.shape == (12000, 126) and c.test.x.shape == (4000, 126)
  assert c.num_classes == 3
  np.testing.assert_array_equal(c.train.x.sum(1), 42)  # one state per cell


def test_tfds_through_mock_data():
  with tfds.testing.mock_data(num_examples=30,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    d = data.load('tfds:mnist')
  assert d.train.x.shape == (30, 784) and d.image_shape == (28, 28)
  assert d.num_classes == 10 and data.is_binary(d.train.x)


def test_tfds_not_prepared_is_a_clear_error(tmp_path):
  with pytest.raises(InputError, match='tfds build mnist') as raised:
    data.load('tfds:mnist', path=str(tmp_path))
  assert raised.value.__cause__ is not None  # tfds's own error, chained
  assert not any(tmp_path.rglob('*.gz'))  # nothing was downloaded
  with pytest.raises(InputError, match="unknown tfds data set 'no_such_set'"):
    data.load('tfds:no_such_set', path=str(tmp_path))


def test_bars_and_stripes():
  images = data.bars_and_stripes(3).reshape(-1, 3, 3)
  assert len(images) == 2 ** 4 - 2
  for image in images:
    bars = np.all(image == image[:, :1], axis=1).all()
    stripes = np.all(image == image[:1, :], axis=0).all()
    assert bars or stripes
  assert data.load('bars_and_stripes', bars_size=3).train.x.shape == (14, 9)


@pytest.mark.parametrize('name, path, message', [
    ('cifar', None, 'unknown data set'),
    ('mnist_idx', None, 'needs a path'),
    ('mnist_idx', '/nonexistent', 'not found'),
    ('mushrooms', '/nonexistent.libsvm', 'missing LIBSVM'),
])
def test_bad_sources_are_clear_errors(name, path, message):
  with pytest.raises(InputError, match=message):
    data.load(name, path=path)


def test_epoch_batches_are_a_fresh_permutation():
  x = np.arange(103, dtype=np.float32)[:, None]
  a = np.asarray(data.epoch_batches(jax.random.key(0), x, 10))
  b = np.asarray(data.epoch_batches(jax.random.key(1), x, 10))
  assert a.shape == (10, 10, 1)
  assert len(np.unique(a)) == 100  # no example twice
  assert not np.array_equal(a, b)
