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
  histo = proto.message_type.add(name='HistogramProto')
  for number, name in enumerate(('min', 'max', 'num', 'sum', 'sum_squares'), 1):
    histo.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
  histo.field.add(name='bucket_limit', number=6, type=F.TYPE_DOUBLE, label=F.LABEL_REPEATED)
  histo.field.add(name='bucket', number=7, type=F.TYPE_DOUBLE, label=F.LABEL_REPEATED)
  image = proto.message_type.add(name='Image')
  for number, name in enumerate(('height', 'width', 'colorspace'), 1):
    image.field.add(name=name, number=number, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
  image.field.add(name='encoded_image_string', number=4, type=F.TYPE_BYTES,
                  label=F.LABEL_OPTIONAL)
  value = proto.message_type.add(name='Value')
  value.field.add(name='tag', number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
  value.field.add(name='simple_value', number=2, type=F.TYPE_FLOAT,
                  label=F.LABEL_OPTIONAL)
  value.field.add(name='image', number=4, type=F.TYPE_MESSAGE,
                  label=F.LABEL_OPTIONAL, type_name='.ncgtest.Image')
  value.field.add(name='histo', number=5, type=F.TYPE_MESSAGE,
                  label=F.LABEL_OPTIONAL, type_name='.ncgtest.HistogramProto')
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


def test_histograms_and_images_reach_tensorboard(tmp_path, monkeypatch):
  """HistogramProto (min, max, num, sum, sum of squares, bucket limits and
  counts as np.histogram's) and Summary.Image (the PNG and its size),
  decoded by protobuf from the descriptor above."""
  np = pytest.importorskip('numpy')
  figures = pytest.importorskip('experiments.figures')
  Event = _event_class()
  monkeypatch.setenv(sinks.TENSORBOARD_ENV, '1')
  workdir = str(tmp_path / 'run')
  os.makedirs(workdir)
  values = np.random.RandomState(0).rand(7, 5)
  sinks.histogram(workdir, 'strength', values, 4)
  sinks.histogram(workdir, 'lazy', lambda: np.arange(3.0), 5)
  png = figures.image_grid(str(tmp_path / 'g.png'), values[:4], (1, 5))
  sinks.image(workdir, 'figures/g', png, 6)
  sinks.image(workdir, 'figures/missing', str(tmp_path / 'none.png'), 7)
  (path,) = [os.path.join(workdir, 'tensorboard', f)
             for f in os.listdir(os.path.join(workdir, 'tensorboard'))]
  events = [Event.FromString(r) for r in _records(path)][1:]
  assert [e.step for e in events] == [4, 5, 6]
  (h,) = events[0].summary.value
  counts, edges = np.histogram(values.ravel(), bins=30)
  assert h.tag == 'strength' and h.histo.num == 35
  assert (h.histo.min, h.histo.max) == (values.min(), values.max())
  assert h.histo.sum == pytest.approx(values.sum(), rel=1e-12)
  assert h.histo.sum_squares == pytest.approx((values ** 2).sum(), rel=1e-12)
  assert list(h.histo.bucket_limit) == list(edges[1:])
  assert list(h.histo.bucket) == list(counts)
  assert events[1].summary.value[0].histo.sum == 3.0
  (i,) = events[2].summary.value
  data = open(png, 'rb').read()
  assert i.tag == 'figures/g' and i.image.encoded_image_string == data
  assert (i.image.height, i.image.width) == sinks.png_size(data)
  assert i.image.colorspace == 4 and i.image.height > 50
  for writer in sinks.writers(workdir):
    writer.close()


def test_no_histogram_work_without_a_sink(tmp_path, monkeypatch):
  monkeypatch.delenv(sinks.TENSORBOARD_ENV, raising=False)

  def never():
    raise AssertionError('computed without a sink')
  sinks.histogram(str(tmp_path), 'x', never, 1)
  assert os.listdir(tmp_path) == []
