"""The control for the framework's default path: ESC-10 with a plain PyTorch loop, no framework.

What a user would write in an afternoon: log-mel in dB (80 dB floor), one global mean and std
from the training folds, timm's ResNet18 (stock stem, 1 channel), SGD lr 0.01 momentum 0.9 at a
constant rate, batch 32, no augmentation; the last epoch scored on the held-out fold.
    python experiments/plain_resnet18_esc10.py --root /path/to/esc10 --seed 0 --out plain_s0.json
"""

import argparse
import csv
import json
from pathlib import Path

import soundfile as sf
import timm
import torch
import torchaudio

p = argparse.ArgumentParser()
p.add_argument("--root", type=Path, required=True)
p.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
p.add_argument("--seed", type=int, default=0)
p.add_argument("--epochs", type=int, default=30)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--lr", type=float, default=0.01)
p.add_argument("--out", type=Path, required=True)
args = p.parse_args()

with open(args.root / "meta" / "esc50.csv", newline="") as f:
    rows = [r for r in csv.DictReader(f) if r["esc10"] == "True"]
classes = sorted({int(r["target"]) for r in rows})
mel = torch.nn.Sequential(
    torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, hop_length=400, n_mels=64),
    torchaudio.transforms.AmplitudeToDB(top_db=80),
)
waves = []
for r in rows:  # decode, mix to mono, resample to 16 kHz, pad or cut to 5 s
    x, sr = sf.read(args.root / "audio" / r["filename"], dtype="float32", always_2d=True)
    x = torchaudio.functional.resample(torch.from_numpy(x.mean(1)), sr, 16000)[:80000]
    waves.append(torch.nn.functional.pad(x, (0, 80000 - len(x))))
specs = mel(torch.stack(waves)).transpose(1, 2).unsqueeze(1)  # (400, 1, 201 frames, 64 mels)
labels = torch.tensor([classes.index(int(r["target"])) for r in rows])
fold_of = torch.tensor([int(r["fold"]) for r in rows])

results = {"seed": args.seed, "epochs": args.epochs, "folds": {}}
for fold in args.folds:
    torch.manual_seed(args.seed)
    train, test = fold_of != fold, fold_of == fold
    mean, std = specs[train].mean(), specs[train].std()
    x_train, x_test = (specs[train] - mean) / std, (specs[test] - mean) / std
    y_train, y_test = labels[train], labels[test]
    model = timm.create_model("resnet18", in_chans=1, num_classes=len(classes))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for _epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(y_train)).split(args.batch_size):
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x).argmax(1) for x in x_test.split(64)])
    results["folds"][fold] = (pred == y_test).float().mean().item()
    print(f"fold {fold}: {100 * results['folds'][fold]:.1f} %", flush=True)

accs = list(results["folds"].values())
results["mean"] = sum(accs) / len(accs)
print(f"mean {100 * results['mean']:.1f} %")
args.out.write_text(json.dumps(results, indent=2))
