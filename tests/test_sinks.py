"""The TensorBoard sink: TFRecord framing and Event protos decoded independently.

The events are parsed with protobuf's own decoder from a descriptor built
here with the field numbers of tensorflow/core/util/event.proto and
summary.proto (Event: wall_time 1, step 2, file_version 3, summary 5;
Summary.value 1; Value: tag 1, simple_value 2), so the hand encoder is checked
against an implementation it shares no code with.
"""

import os
import struct

import pytest

from experiments import sinks
from experiments import workdir as workdir_lib


def _records(path):
  """The payloads of a TFRecord file, checking both masked CRCs."""
  data = open(path, 'rb').read()
  out, i = [], 0
  while i < len(data):
    length_bytes = data[i:i + 8]
    (length,) = struct.unpack('<Q', length_bytes)
    (length_crc,) = struct.unpack('<I', data[i + 8:i + 12])
    assert length_crc == sinks._masked_crc(length_bytes)  # pylint: disable=protected-access
    payload = data[i + 12:i + 12 + length]
    (payload_crc,) = struct.unpack('<I', data[i + 12 + length:i + 16 + length])
    assert payload_crc == sinks._masked_crc(payload)  # pylint: disable=protected-access
    out.append(payload)
    i += 16 + length
  return out


def _event_class():
  descriptor_pb2 = pytest.importorskip('google.protobuf.descriptor_pb2')
  from google.protobuf import descriptor_pool, message_factory  # pylint: disable=g-import-not-at-top
  F = descriptor_pb2.FieldDescriptorProto
  proto = descriptor_pb2.FileDescriptorProto(name='ncg_test_event.proto',
                                             package='ncgtest', syntax='proto3')
  value = proto.message_type.add(name='Value')
  value.field.add(name='tag', number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
  value.field.add(name='simple_value', number=2, type=F.TYPE_FLOAT,
                  label=F.LABEL_OPTIONAL)
  summary = proto.message_type.add(name='Summary')
  summary.field.add(name='value', number=1, type=F.TYPE_MESSAGE,
                    label=F.LABEL_REPEATED, type_name='.ncgtest.Value')
  ev = proto.message_type.add(name='Event')
  ev.field.add(name='wall_time', number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
  ev.field.add(name='step', number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
  ev.field.add(name='file_version', number=3, type=F.TYPE_STRING,
               label=F.LABEL_OPTIONAL)
  ev.field.add(name='summary', number=5, type=F.TYPE_MESSAGE,
               label=F.LABEL_OPTIONAL, type_name='.ncgtest.Summary')
  pool = descriptor_pool.DescriptorPool()
  pool.Add(proto)
  return message_factory.GetMessageClass(pool.FindMessageTypeByName('ncgtest.Event'))


def test_crc32c_known_value():
  assert sinks.crc32c(b'123456789') == 0xE3069283
  assert sinks.crc32c(b'') == 0


def test_metrics_reach_tensorboard_when_switched_on(tmp_path, monkeypatch):
  Event = _event_class()
  monkeypatch.setenv(sinks.TENSORBOARD_ENV, '1')
  workdir = str(tmp_path / 'run')
  os.makedirs(workdir)
  workdir_lib.append_metrics(workdir, {'epoch': 1, 'density': 0.25,
                                       'added': 12, 'diverged': False})
  workdir_lib.append_metrics(workdir, {'epoch': 3, 'member': 2, 'kind': 'eval',
                                       'test_log_likelihood_ais': -98.5,
                                       'note': 'text', 'nan': float('nan')})
  workdir_lib.append_metrics(workdir, {'epoch': -7, 'x': 1e30})
  assert len(workdir_lib.read_metrics(workdir)) == 3  # the record is unchanged
  (path,) = [os.path.join(workdir, 'tensorboard', f)
             for f in os.listdir(os.path.join(workdir, 'tensorboard'))]
  events = [Event.FromString(r) for r in _records(path)]
  assert events[0].file_version == 'brain.Event:2'
  got = [(e.step, {v.tag: v.simple_value for v in e.summary.value})
         for e in events[1:]]
  assert got == [(1, {'density': 0.25, 'added': 12.0}),
                 (3, {'m2/eval/test_log_likelihood_ais': -98.5}),
                 (-7, {'x': pytest.approx(1e30, rel=1e-7)})]
  assert all(e.wall_time > 1e9 for e in events)
  for writer in sinks.writers(workdir):
    writer.close()


def test_no_sink_without_the_switch(tmp_path, monkeypatch):
  monkeypatch.delenv(sinks.TENSORBOARD_ENV, raising=False)
  workdir_lib.append_metrics(str(tmp_path), {'epoch': 1, 'density': 0.5})
  assert os.listdir(tmp_path) == [workdir_lib.METRICS_FILE]
