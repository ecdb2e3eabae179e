"""The book's models, one concept per file, with no experiment and no figure:

- :mod:`~gradbook.models.mlp`: fully connected nets, the one weight
  initialisation rule, dropout, batch norm and residual nets;
- :mod:`~gradbook.models.cnn`: small CNNs for the 8x8 digits, deep plain CNNs,
  LeNet-5 as the 1998 paper describes it, convolution written out;
- :mod:`~gradbook.models.rnn`: vanilla recurrent nets and LSTMs, recurrent
  matrices at a chosen spectral radius;
- :mod:`~gradbook.models.rbm`: the Bernoulli RBM (scikit-learn compatible),
  exact and AIS log-partition functions;
- :mod:`~gradbook.models.stacks`: greedy layer-wise training, deep belief nets
  and stacked autoencoders.

Submodules are imported on use (``from gradbook.models.rbm import BernoulliRBM``).
"""

__all__: list[str] = []
