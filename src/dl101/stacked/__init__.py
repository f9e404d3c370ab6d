"""Sweeps at the speed of their arithmetic (hydra/launcher=stacked): the jobs of a sweep that
share a classifier and its data trained as one vectorized model, each still its own run.

- `grouping`: which jobs stack and why others run alone; the sweep's groups trained before
  Hydra runs its jobs;
- `training`: one group under one Lightning Trainer, each member's folder, loggers, checkpoints
  and final metrics as a separate run's;
- `model`: the members' parameters stacked, one `vmap(functional_call)` forward of them all;
- `optim`: SGD, Adam and AdamW with a hyper-parameter value per member.
"""
