"""Continue a prompt with a trained language model.

python -m dl101.sample ckpt_path=logs/.../last.ckpt prompt="It is raining" temperature=0.8
"""

from __future__ import annotations

import hydra
import torch
from omegaconf import DictConfig
from pytorch_lightning import seed_everything
from rich.console import Console

from dl101 import CONFIG_DIR
from dl101.data.text import UNK, Vocab, tokenize
from dl101.predict import load_for_prediction


@torch.no_grad()
def generate(
    model, vocab: Vocab, level: str, prompt: str, length: int, temperature: float = 1.0
) -> str:
    """The prompt followed by `length` sampled tokens; temperature 0 always takes the likeliest."""
    if temperature < 0:
        raise ValueError(f"temperature={temperature}: must be >= 0")
    model.eval()
    ids = vocab.encode(tokenize(prompt, level)) if prompt else torch.zeros(1, dtype=torch.long)
    logits, state = model(ids.unsqueeze(0).to(model.device))  # read the whole prompt
    generated = []
    for _ in range(length):
        last = logits[0, -1].clone()
        last[vocab.stoi[UNK]] = -torch.inf  # never write "<unk>"
        if temperature == 0:
            token = last.argmax()
        else:
            token = torch.multinomial(torch.softmax(last / temperature, dim=-1), 1)[0]
        generated.append(int(token))
        logits, state = model(token.view(1, 1), state)
    separator = "" if level == "char" or not prompt else " "
    return prompt + separator + vocab.decode(generated, level)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="sample")
def main(cfg: DictConfig) -> None:
    seed_everything(cfg.seed)
    model, datamodule = load_for_prediction(cfg.ckpt_path)
    text = generate(
        model, datamodule.vocab, datamodule.level, cfg.prompt, cfg.length, cfg.temperature
    )
    Console().print(text, markup=False, highlight=False)


if __name__ == "__main__":
    main()
