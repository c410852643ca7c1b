"""The work a user runs, cut the same way for both model families.

- `fit`: the shared fit-and-save (resume, checkpoints, logs, strategies);
- `degradation`: train (recipes), fit the closed-form global kernel, evaluate;
- `sr`: build, train and evaluate SR networks;
- `tuning`: search DML's number of basis kernels, kernel size and rate, a `train-degradation` run a trial.
"""
