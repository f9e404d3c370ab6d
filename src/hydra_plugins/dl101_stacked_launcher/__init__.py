"""hydra/launcher=stacked (conf/hydra/launcher/stacked.yaml): dl101.stacked.grouping."""
