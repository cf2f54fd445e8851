"""The module's one inference path (`infer`): the test step's logits, the centre crop's
embeddings, and the same through `predict_step` and `trainer.predict`."""

from __future__ import annotations

import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader, TensorDataset

from fpam_lightning.training.augment import crop


@torch.no_grad()
def test_infer_gives_the_test_steps_logits_and_the_centre_crops_embeddings(small_module):
    module = small_module(3)
    wave = torch.randn(4, 12000)
    centre = module.net.classify(module.net.frontend(crop(wave, 8000, train=False)))
    out = module.infer(wave)
    assert torch.equal(out.logits, module.score(wave))  # the mean over 3 crops
    assert not torch.allclose(out.logits, centre.logits)
    assert torch.equal(out.embedding, centre.embedding)
    one = module.infer(wave, views=1)  # predict's windows: one view each
    assert torch.equal(one.logits, centre.logits) and torch.equal(one.embedding, centre.embedding)
    module.tta_crops = 1
    assert torch.equal(module.infer(wave).logits, module.score(wave))


def test_trainer_predict_runs_infer(small_module):
    module = small_module(2)
    wave, target, index = torch.randn(5, 9000), torch.tensor([0, 1, 2, 0, 1]), torch.arange(5) + 10
    loader = DataLoader(TensorDataset(wave, target, index), batch_size=2)
    trainer = Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    parts = trainer.predict(module, loader)
    logits = torch.cat([p["logits"] for p in parts])
    with torch.no_grad():
        expected = module.infer(wave)
    assert torch.allclose(logits, expected.logits, atol=1e-6)
    assert torch.allclose(torch.cat([p["embedding"] for p in parts]), expected.embedding, atol=1e-6)
    assert torch.equal(torch.cat([p["index"] for p in parts]), index)
    bare = module.predict_step(wave[:2], 0)  # a batch of bare waves has no index
    assert bare["index"] is None and bare["logits"].shape == (2, 3)
