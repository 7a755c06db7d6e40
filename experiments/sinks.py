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
``m<member>/<field>`` and an evaluation's ``eval/<field>``. A sink that fails
(a full disk) raises as any other write of the run would.

A new sink is a class with ``write(record: dict)`` and ``close()``
(:class:`Writer`), added to :func:`writers`.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any, Protocol

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


def event(wall_time: float, step: int, *, file_version: str | None = None,
          scalars: dict[str, float] | None = None) -> bytes:
  """An encoded ``tensorflow.Event``: wall_time (1, double), step (2, int64),
  file_version (3, string) or summary (5: Summary{value (1): Value{tag (1),
  simple_value (2, float)}})."""
  out = _varint(1 << 3 | 1) + struct.pack('<d', wall_time)
  out += _varint(2 << 3 | 0) + _varint(step)
  if file_version is not None:
    out += _field_bytes(3, file_version.encode())
  if scalars:
    summary = b''.join(
        _field_bytes(1, _field_bytes(1, tag.encode())
                     + _varint(2 << 3 | 5) + struct.pack('<f', value))
        for tag, value in scalars.items())
    out += _field_bytes(5, summary)
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
