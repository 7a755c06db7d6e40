"""Where metrics go besides metrics.jsonl: a small writer interface and a TensorBoard sink.

``metrics.jsonl`` stays the record (every entry point appends to it through
``workdir.append_metrics``); each record is also handed to the sinks that are
switched on, so the same numbers can be watched live elsewhere:

* ``NCG_TENSORBOARD=1`` (environment): TensorBoard event files under
  ``<workdir>/tensorboard/`` (``tensorboard --logdir runs/`` shows every run),
  written by :class:`TensorBoardWriter` with the standard library alone (no
  TensorFlow, no tensorboardX): TFRecord framing with masked CRC-32C around
  hand-encoded ``Event`` protocol buffers holding scalar summaries.

Every numeric field of a record becomes a scalar at step ``record['epoch']``
(or the record's position in the run); a sweep member's fields are tagged
``m<member>/<field>`` and an evaluation's ``eval/<field>``. Runs also send
histograms (:func:`histogram`: the connection strengths α and the present
weights every epoch, TensorBoard's HistogramProto) and images
(:func:`image`: the PNG figures when drawn, Summary.Image). A sink that fails
(a full disk) raises as any other write of the run would.

A new sink is a class with ``write(record: dict)`` and ``close()``
(:class:`Writer`), and optionally ``write_histogram(tag, values, step)`` and
``write_image(tag, png, step)``, added to :func:`writers`.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any, Protocol

import numpy as np

from ncg import distributed

TENSORBOARD_ENV = 'NCG_TENSORBOARD'
TENSORBOARD_DIR = 'tensorboard'
_SKIP = ('epoch', 'member', 'seed', 'step')  # labels of a record, not metrics


class Writer(Protocol):
  """A metrics sink: receives every record appended to metrics.jsonl."""

  def write(self, record: dict[str, Any]) -> None:
    ...

  def close(self) -> None:
    ...


# ---------------------------------------------------------------------------
# TFRecord framing and the Event protocol buffer, by hand.


def _crc32c_table() -> list[int]:
  table = []
  for n in range(256):
    crc = n
    for _ in range(8):
      crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    table.append(crc)
  return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
  """CRC-32C (Castagnoli), as TFRecord files use it; crc32c(b'123456789') = 0xE3069283."""
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
  """One TFRecord: length (u64), its masked CRC (u32), data, data's masked CRC (u32)."""
  length = struct.pack('<Q', len(data))
  return (length + struct.pack('<I', _masked_crc(length)) + data
          + struct.pack('<I', _masked_crc(data)))


def _varint(value: int) -> bytes:
  value &= (1 << 64) - 1  # int64 as protobuf encodes negatives
  out = bytearray()
  while True:
    bits = value & 0x7F
    value >>= 7
    if value:
      out.append(bits | 0x80)
    else:
      out.append(bits)
      return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
  return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _double(number: int, value: float) -> bytes:
  return _varint(number << 3 | 1) + struct.pack('<d', value)


def histogram_proto(values, bins: int = 30) -> bytes:
  """An encoded ``HistogramProto`` of ``values``: min (1), max (2), num (3),
  sum (4), sum_squares (5) as doubles, bucket_limit (6) and bucket (7) as
  packed doubles; bucket i counts the values in (limit[i−1], limit[i]]
  (np.histogram's ``bins`` equal-width bins; the first from the minimum)."""
  x = np.asarray(values, np.float64).ravel()
  x = x[np.isfinite(x)]
  if not x.size:
    x = np.zeros(1)
  counts, edges = np.histogram(x, bins=bins)
  out = (_double(1, x.min()) + _double(2, x.max()) + _double(3, x.size)
         + _double(4, x.sum()) + _double(5, float(np.dot(x, x))))
  out += _field_bytes(6, np.asarray(edges[1:], '<f8').tobytes())
  out += _field_bytes(7, np.asarray(counts, '<f8').tobytes())
  return out


def png_size(png: bytes) -> tuple[int, int]:
  """(height, width) from a PNG's IHDR chunk."""
  if png[:8] != b'\x89PNG\r\n\x1a\n':
    raise ValueError('not a PNG file')
  width, height = struct.unpack('>II', png[16:24])
  return height, width


def image_proto(png: bytes) -> bytes:
  """An encoded ``Summary.Image``: height (1), width (2), colorspace (3: 4 =
  RGBA, as matplotlib writes), encoded_image_string (4: the PNG)."""
  height, width = png_size(png)
  return (_varint(1 << 3) + _varint(height) + _varint(2 << 3) + _varint(width)
          + _varint(3 << 3) + _varint(4) + _field_bytes(4, png))


def event(wall_time: float, step: int, *, file_version: str | None = None,
          scalars: dict[str, float] | None = None,
          histograms: dict[str, Any] | None = None,
          images: dict[str, bytes] | None = None) -> bytes:
  """An encoded ``tensorflow.Event``: wall_time (1, double), step (2, int64),
  file_version (3, string) or summary (5: Summary{value (1): Value{tag (1),
  simple_value (2, float) | image (4, Summary.Image) | histo (5,
  HistogramProto)}})."""
  out = _varint(1 << 3 | 1) + struct.pack('<d', wall_time)
  out += _varint(2 << 3 | 0) + _varint(step)
  if file_version is not None:
    out += _field_bytes(3, file_version.encode())
  values = [_field_bytes(1, tag.encode()) + _varint(2 << 3 | 5)
            + struct.pack('<f', value) for tag, value in (scalars or {}).items()]
  values += [_field_bytes(1, tag.encode()) + _field_bytes(5, histogram_proto(v))
             for tag, v in (histograms or {}).items()]
  values += [_field_bytes(1, tag.encode()) + _field_bytes(4, image_proto(png))
             for tag, png in (images or {}).items()]
  if values:
    out += _field_bytes(5, b''.join(_field_bytes(1, v) for v in values))
  return out


def scalars_of(record: dict[str, Any]) -> dict[str, float]:
  """The record's numeric fields as TensorBoard tags (see the module docstring)."""
  prefix = ''
  if record.get('kind') == 'eval':
    prefix = 'eval/'
  if record.get('member') is not None:
    prefix = f'm{record["member"]}/' + prefix
  out = {}
  for key, value in record.items():
    if key in _SKIP or isinstance(value, bool):
      continue
    if isinstance(value, (int, float)) and value == value:  # drops NaN too
      out[prefix + key] = float(value)
  return out


class TensorBoardWriter:
  """Scalar summaries in a TensorBoard event file of ``directory``."""

  def __init__(self, directory: str):
    os.makedirs(directory, exist_ok=True)
    name = (f'events.out.tfevents.{int(time.time())}.{socket.gethostname()}'
            f'.{os.getpid()}.ncg')
    self.path = os.path.join(directory, name)
    self._file = open(self.path, 'ab')
    self._count = 0
    self._file.write(tfrecord(event(time.time(), 0, file_version='brain.Event:2')))
    self._file.flush()

  def write(self, record: dict[str, Any]) -> None:
    self._count += 1
    scalars = scalars_of(record)
    if not scalars:
      return
    step = record.get('epoch', self._count)
    step = int(step) if isinstance(step, (int, float)) else self._count
    self._file.write(tfrecord(event(time.time(), step, scalars=scalars)))
    self._file.flush()

  def write_histogram(self, tag: str, values, step: int) -> None:
    self._file.write(tfrecord(event(time.time(), int(step),
                                    histograms={tag: values})))
    self._file.flush()

  def write_image(self, tag: str, png: bytes, step: int) -> None:
    self._file.write(tfrecord(event(time.time(), int(step), images={tag: png})))
    self._file.flush()

  def close(self) -> None:
    self._file.close()


_OPEN: dict[str, list[Writer]] = {}


def writers(workdir: str) -> list[Writer]:
  """The sinks switched on for ``workdir`` (opened once per process)."""
  key = os.path.abspath(workdir)
  if key not in _OPEN:
    sinks: list[Writer] = []
    if os.environ.get(TENSORBOARD_ENV, '').strip() not in ('', '0'):
      sinks.append(TensorBoardWriter(os.path.join(workdir, TENSORBOARD_DIR)))
    _OPEN[key] = sinks
  return _OPEN[key]


def publish(workdir: str, record: dict[str, Any]) -> None:
  """Hands a metrics record (already JSON-ready) to every sink of ``workdir``."""
  for writer in writers(workdir):
    writer.write(record)


def histogram(workdir: str, tag: str, values, step: int) -> None:
  """Hands a histogram of ``values`` (an array, or a function returning one:
  computed only when a sink takes histograms) to the sinks of ``workdir``."""
  takers = [w for w in writers(workdir) if hasattr(w, 'write_histogram')]
  if takers and distributed.is_writer():
    values = np.asarray(values() if callable(values) else values)
    for writer in takers:
      writer.write_histogram(tag, values, step)


def image(workdir: str, tag: str, path: str, step: int) -> None:
  """Hands the PNG file at ``path`` (if written) to the sinks of ``workdir``."""
  takers = [w for w in writers(workdir) if hasattr(w, 'write_image')]
  if takers and distributed.is_writer() and os.path.isfile(path):
    with open(path, 'rb') as f:
      png = f.read()
    for writer in takers:
      writer.write_image(tag, png, step)
