"""Joint (classification) RBM on UCI Mushrooms; for Connect-4 override

    --config.data.name=connect4 --config.data.path=FILE  # e.g. connect-4-16k.libsvm.gz

Label units are appended to the visible layer, always connected; accuracy by
the exact rule p(y|x) ∝ exp(−F(x, y)).
"""

from experiments import configs
from experiments.configs import default


def get_config():
  config = default.get_config()
  config.train.baseline = ''  # no baseline beside (the default run's is dense)
  config.data.name = 'mushrooms'
  config.data.path = configs.data_path('uci/mushrooms.libsvm')  # or pass the file
  config.data.binarization = 'threshold'  # features are already {0, 1}
  config.model.num_hidden = 100
  config.model.labels = True
  config.train.k = 1
  config.train.batch_size = 50
  config.train.epochs = 50
  config.eval.final = True
  return config
