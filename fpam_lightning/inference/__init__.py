"""Checkpoint backends of the commands: scoring a loader, classifying files, exporting a model.

scoring       one pass of a trained module over a loader (`score`), embeddings.npz
predictor     classify audio files of any length, rate and channel count (`predict`)
model_export  a checkpoint as a waveform-in, logits-out ONNX or TorchScript model (`export`)
"""
