"""EfficientAT's mn04_as: the real release file, its download, and the levels FPAM reads."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
import threading

import pytest
import torch

from fpam_lightning.models.efficientat import RELEASES, EfficientATBackbone, map_release_keys
from fpam_lightning.utils.errors import ConfigError
from fpam_lightning.utils.safe_load import safe_torch_load


def test_every_tensor_of_the_release_file_maps_onto_torchvision(mn04_file):
    path = str(mn04_file)
    net = EfficientATBackbone("mn04_as", [2, 3, 4, 5], checkpoint=path, keep_audioset_head=True)
    state = map_release_keys(dict(safe_torch_load(mn04_file, setting="t")))
    mine = {f"features.{k}": v for k, v in net.features.state_dict().items()}
    mine |= {f"classifier.{k}": v for k, v in net.audioset_head.state_dict().items()}
    assert sorted(state) == sorted(mine)  # strict: every key, both ways
    assert all(torch.equal(state[k], mine[k]) for k in state)
    assert net.channels == [16, 16, 48, 384]
    shapes = [tuple(f.shape[-2:]) for f in net(torch.zeros(1, 1, 501, 128))]
    assert shapes == [(126, 32), (63, 16), (32, 8), (16, 4)]  # (time, frequency) per level


def test_the_audioset_head_is_dropped_and_logged(mn04_file, caplog):
    caplog.set_level("INFO")
    net = EfficientATBackbone("mn04_as", [5], checkpoint=str(mn04_file))
    assert net.audioset_head is None
    assert "AudioSet classifier (classifier.0.bias" in caplog.text


@pytest.mark.parametrize("variant", ["mn10_as", "mn05_as"])
def test_a_file_of_another_variant_fails_in_one_line_naming_both(mn04_file, variant):
    with pytest.raises(ConfigError) as e:
        EfficientATBackbone(variant, [5], checkpoint=str(mn04_file))
    msg = str(e.value)
    assert "\n" not in msg and variant in msg and "mn04_as_mAP_432.pt" in msg
    assert "(8, 1, 3, 3)" in msg  # what the file holds: mn04's stem


def test_a_wrong_file_fails_in_one_line(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(64, 1, 7, 7)}, path)
    with pytest.raises(ConfigError, match="is not an EfficientAT mn04_as release file"):
        EfficientATBackbone("mn04_as", [5], checkpoint=str(path))


@pytest.fixture
def mirror(tmp_path, mn04_file):
    """A loopback HTTP server serving a folder, as a mirror of the release would."""
    root = tmp_path / "mirror"
    root.mkdir()
    shutil.copy(mn04_file, root / RELEASES["mn04_as"][1])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/{{}}"
    server.shutdown()


def test_pretrained_downloads_checks_and_caches_the_release(tmp_path, mirror):
    root, url = mirror
    cache = tmp_path / "cache"
    net = EfficientATBackbone("mn04_as", [5], pretrained=True, cache_dir=str(cache), url=url)
    saved = cache / RELEASES["mn04_as"][1]
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == RELEASES["mn04_as"][2]
    (root / saved.name).unlink()  # a second build reads the cache, not the network
    again = EfficientATBackbone("mn04_as", [5], pretrained=True, cache_dir=str(cache), url=url)
    assert torch.equal(net.features[0][0].weight, again.features[0][0].weight)


def test_a_corrupt_download_is_refused_by_its_sha256(tmp_path, mirror):
    root, url = mirror
    path = root / RELEASES["mn04_as"][1]
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ConfigError, match="hash|sha256|digest") as e:
        EfficientATBackbone("mn04_as", [5], pretrained=True, cache_dir=str(tmp_path / "c"), url=url)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "c" / path.name).exists()


def test_without_network_one_line_names_the_url_and_the_local_setting(tmp_path):
    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{{}}"
    with pytest.raises(ConfigError) as e:
        EfficientATBackbone("mn04_as", [5], pretrained=True, cache_dir=str(tmp_path), url=url)
    msg = str(e.value)
    assert "\n" not in msg and url.format("mn04_as_mAP_432.pt") in msg
    assert "backbone.checkpoint=" in msg


def test_pretrained_and_checkpoint_together_are_refused(mn04_file):
    with pytest.raises(ConfigError, match="choose one source of weights"):
        EfficientATBackbone("mn04_as", [5], pretrained=True, checkpoint=str(mn04_file))


def test_an_unknown_variant_lists_the_releases():
    with pytest.raises(ConfigError, match="mn04_as, mn05_as, mn10_as"):
        EfficientATBackbone("mn07_as", [5])


def test_every_variant_builds_with_its_width():
    assert EfficientATBackbone("mn10_as", [3, 4, 5]).channels == [40, 112, 960]
