"""The page's side of the two languages: the script that fixes the language before Gradio starts,
the switch, and the ASGI middleware that puts the script into every HTML page.

Which language a page uses is decided in the browser before Gradio starts (``LANGUAGE_SCRIPT``, put
at the top of the page by ``LanguageScript``): ``?lang=ru`` or ``?lang=en`` in the address, else the
switch's last choice (localStorage), else the browser's language (Russian if it starts with "ru",
English otherwise). Gradio has no public way to change its locale later without stale strings (its
upload area keeps the old language), so the switch stores the choice and reloads the page. The page
then tells the server its language in a private load step, kept per session for the handlers.
"""

from __future__ import annotations

import json
from typing import Any

STORAGE_KEY = "user-studio-lang"  # localStorage: the switch's last choice

# Runs first in the page, before Gradio reads navigator.language to pick its locale (and with it the
# app's I18n texts): the language is fixed to the one this app speaks, so Gradio never shows a third.
LANGUAGE_SCRIPT = """<script>(function () {
  try {
    var key = __KEY__, param = null, stored = null;
    try { param = new URLSearchParams(window.location.search).get("lang"); } catch (e) {}
    try { stored = window.localStorage.getItem(key); } catch (e) {}
    var browser = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    var lang = String(param || stored || browser).toLowerCase().indexOf("ru") === 0 ? "ru" : "en";
    Object.defineProperty(navigator, "language", {get: function () { return lang; }, configurable: true});
    Object.defineProperty(navigator, "languages", {get: function () { return [lang]; }, configurable: true});
    document.documentElement.setAttribute("lang", lang);
    window.__userStudioLang = lang;
  } catch (e) {}
})();</script>""".replace("__KEY__", json.dumps(STORAGE_KEY))

# The load step's js: the page's language, as decided above, for the server to remember.
PAGE_LANGUAGE_JS = "() => window.__userStudioLang || 'en'"
# The switch: keep the choice and reload, so that Gradio's own strings are built in it from the start.
SWITCH_JS = """(lang) => {
  try { window.localStorage.setItem(__KEY__, lang); } catch (e) {}
  const url = new URL(window.location.href);
  url.searchParams.delete("lang");
  window.location.replace(url.href);
  return lang;
}""".replace("__KEY__", json.dumps(STORAGE_KEY))


# Files the server hands out as they are (uploads, exports, Gradio's assets): never rewritten, even HTML.
SERVED_FILES = ("/gradio_api/", "/file=", "/assets/", "/static/")


class LanguageScript:
    """ASGI middleware: puts LANGUAGE_SCRIPT at the top of every HTML page the app serves.

    Gradio's own ``head`` option is applied by its JavaScript after it has chosen the locale, too late;
    the script has to be in the page before Gradio's module runs. Only uncompressed text/html responses
    are touched (the page is small), and never a served file; everything else streams through as it is.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if (scope.get("type") != "http" or scope.get("method") != "GET"
                or any(part in path for part in SERVED_FILES)):
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        body: list[bytes] = []

        async def capture(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if (headers.get(b"content-type", b"").startswith(b"text/html")
                        and b"content-encoding" not in headers):
                    start = message
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = b"".join(body)
                script = LANGUAGE_SCRIPT.encode()
                if b"<head>" in page:
                    page = page.replace(b"<head>", b"<head>" + script, 1)
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(page)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": page, "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, capture)


def launch_options() -> dict[str, Any]:
    """What ``launch()`` needs for the two languages: the translations and the page script."""
    from starlette.middleware import Middleware

    from ui.i18n import I18N

    return {"i18n": I18N, "app_kwargs": {"middleware": [Middleware(LanguageScript)]}}
