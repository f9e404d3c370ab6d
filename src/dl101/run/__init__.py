"""One run's machinery: compose its config (`config`), train it (`training`), its checkpoints
(`checkpoints`) and what `ckpt_path=` names (`ckpt_path`), torch's threads (`threads`), what is
logged to TensorBoard beside the curves (`hparams`), the Hydra callback of every multirun
(`multirun`), a trained model put to use (`inference`), and trackers beside TensorBoard
(`trackers`)."""
