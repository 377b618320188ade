"""A plotly map people can select on: lasso, box and click reach Python as point ids.

``gr.Plot`` has only a ``change`` event, so the map is a ``gr.HTML`` whose ``js_on_load`` draws the
figure with plotly.js (from the ``plotly`` package, served by Gradio: no CDN) and calls
``trigger('select', {index: ids})`` on plotly's selection and click events; ``.select(fn)`` then
gets a ``gr.SelectData`` whose ``index`` is the list of point ids (each trace's ``customdata``).
Clicking empty space or double-clicking sends an empty selection. The value is the figure as JSON
(the same figure ``gr.Plot`` showed), so API callers still receive a plotly figure.

Ids come from the browser and are checked on the server (:func:`core.exploration.selection.selected_ids`).

Past :data:`LAZY_HOVER_POINTS` points the hover texts stay on the server: they made most of a large map's
payload (50,000 short texts: about 7 MB with them, under 1 MB of binary coordinates and ids without), so
the page asks for one point's text when the pointer rests on it (``server.hover_text``), keyed by a random
token only the figure's recipient holds.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import gradio as gr
import numpy as np
import plotly
import plotly.graph_objects as go

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"

LAZY_HOVER_POINTS = 5_000
# Hover texts kept for lazy hover, oldest map out first: 300,000 texts (six 50,000-point maps, a
# recolouring makes a new one) are about 60 MB.
_HOVER_POINTS_KEPT = 300_000
_hovers: OrderedDict[str, dict[int, str]] = OrderedDict()
_hovers_lock = threading.Lock()

# Constant, so a new value never re-renders (and wipes) the drawn plot; js_on_load draws into it.
TEMPLATE = "<div class='user-studio-map' style='width:100%;min-height:560px'></div>"
# A finished selection's outline would swallow later clicks; points stay clickable through it.
CSS = (".selectionlayer path { pointer-events: none; } .user-studio-map { width: 100%; position: relative; }"
       " .user-studio-hover { position: fixed; z-index: 50; pointer-events: none; max-width: 420px;"
       " background: #fff; border: 1px solid #999; border-radius: 4px; padding: 4px 6px; font-size: 12px; }")
JS = """
const box = element.querySelector('.user-studio-map');
let drawn = null;
function ids(points) {
  const out = [];
  for (const p of points || []) {
    const id = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
    if (id !== undefined && id !== null) out.push(id);
  }
  return out;
}
let figure = null, narrow = null;
// On a narrow screen (a phone) a legend beside the map squeezed it into a ~100 px strip and the title ran
// under the toolbar: there the legend goes below the map and the title, wrapped, below the toolbar.
const NARROW_PX = 600;
function fitted(layout, width) {
  if (width >= NARROW_PX) return layout;
  const out = Object.assign({}, layout);
  const title = layout.title || {};
  const text = typeof title === 'string' ? title : (title.text || '');
  const perLine = Math.max(20, Math.floor((width - 20) / 8));
  const lines = [];
  for (const word of text.split(' ')) {
    const last = lines.length ? lines[lines.length - 1] : null;
    if (last !== null && (last + ' ' + word).length <= perLine) lines[lines.length - 1] = last + ' ' + word;
    else lines.push(word);
  }
  const toolbar = 34;  // plotly's toolbar is about 30 px tall, at the top right
  out.title = Object.assign({}, typeof title === 'string' ? {} : title, {
    text: lines.join('<br>'), font: {size: 13}, x: 0, xref: 'paper', xanchor: 'left',
    // plotly anchors a wrapped title by its first line: the others hang below it, into the map, unless lifted.
    y: 1, yref: 'paper', yanchor: 'bottom', pad: {b: 8 + 18 * (lines.length - 1)}});
  const margin = Object.assign({l: 10, r: 10, b: 10}, layout.margin || {});
  margin.t = toolbar + 18 * Math.max(1, lines.length) + 12;
  out.margin = margin;
  out.legend = Object.assign({}, layout.legend || {}, {orientation: 'h', x: 0, xanchor: 'left', y: -0.02,
                                                      yanchor: 'top'});
  // Room for the legend's rows under the map, so that the map keeps its own height.
  const names = (figure.data || []).filter(t => t.showlegend !== false).map(t => String(t.name || ''));
  const rowWidth = names.reduce((sum, n) => sum + 40 + 7 * n.length, 0);
  const rows = Math.ceil(rowWidth / Math.max(1, width - 20)) + 1;
  out.height = (layout.height || 560) + margin.t - ((layout.margin || {}).t || 40) + 22 * rows;
  return out;
}
function render() {
  const width = box.clientWidth || element.clientWidth || window.innerWidth;
  narrow = width < NARROW_PX;
  const layout = fitted(Object.assign({}, figure.layout || {}, {dragmode: (figure.layout || {}).dragmode || 'lasso'}),
                        width);
  // The box's own height follows the figure's (responsive plotly sizes itself to the box).
  box.style.height = narrow && layout.height ? layout.height + 'px' : '';
  Plotly.react(box, figure.data || [], layout, {responsive: true, displaylogo: false});
}
function draw() {
  if (!props.value || typeof Plotly === 'undefined') return;
  try { figure = JSON.parse(props.value); } catch (e) { return; }
  if (drawn === props.value) return;
  drawn = props.value;
  render();
  if (!box._userStudioHooked) {
    box._userStudioHooked = true;
    box.on('plotly_selected', ev => trigger('select', {index: ev ? ids(ev.points) : [], value: 'selected', selected: true}));
    box.on('plotly_click', ev => trigger('select', {index: ids(ev.points), value: 'clicked', selected: true}));
    box.on('plotly_deselect', () => trigger('select', {index: [], value: 'cleared', selected: false}));
    box.on('plotly_doubleclick', () => trigger('select', {index: [], value: 'cleared', selected: false}));
    // Large maps carry no hover texts (layout.meta.hover_key): ask the server for the one under the pointer.
    const tip = document.createElement('div');
    tip.className = 'user-studio-hover';
    tip.style.display = 'none';
    element.appendChild(tip);
    let asked = null;
    box.on('plotly_hover', ev => {
      const key = ((box.layout || {}).meta || {}).hover_key;
      const point = ev && ev.points && ev.points[0];
      if (!key || !point || typeof server === 'undefined') return;
      const id = Array.isArray(point.customdata) ? point.customdata[0] : point.customdata;
      asked = id;
      const x = ev.event ? ev.event.clientX : 0, y = ev.event ? ev.event.clientY : 0;
      server.hover_text([key, id]).then(text => {
        if (asked !== id || !text) return;
        tip.innerHTML = text;  // escaped on the server, as every hover text is (ui/plots.py)
        tip.style.left = (x + 12) + 'px';
        tip.style.top = (y + 12) + 'px';
        tip.style.display = 'block';
      });
    });
    box.on('plotly_unhover', () => { asked = null; tip.style.display = 'none'; });
  }
}
function whenReady(tries) {
  if (typeof Plotly !== 'undefined') { draw(); return; }
  if (tries > 0) setTimeout(() => whenReady(tries - 1), 100);
}
whenReady(100);
watch('value', () => whenReady(100));
// A map in a tab that was hidden when drawn has zero width: resize when it becomes visible.
new IntersectionObserver(entries => {
  if (entries.some(e => e.isIntersecting) && box.data && typeof Plotly !== 'undefined') Plotly.Plots.resize(box);
}).observe(box);
// A phone turned sideways, or a window made narrow: lay the map out again when it crosses NARROW_PX, else
// fit it to its box (plotly's own resizing follows the window, not a box that settles after it).
let lastWidth = 0;
new ResizeObserver(() => {
  const width = box.clientWidth;
  if (!figure || !width || narrow === null || typeof Plotly === 'undefined' || width === lastWidth) return;
  lastWidth = width;
  if ((width < NARROW_PX) !== narrow) render();
  else if (box.data) Plotly.Plots.resize(box);
}).observe(box);
"""


def allow_plotly_js() -> None:
    """Let Gradio serve plotly.min.js from the installed package (call before building the app)."""
    gr.set_static_paths([str(PLOTLY_JS.parent)])


def map_component(elem_id: str, value: str | None = None, **kwargs) -> gr.HTML:
    """The map; ``value`` is :func:`figure_value` of the figure to show first."""
    allow_plotly_js()
    return gr.HTML(value=value, html_template=TEMPLATE, css_template=CSS, js_on_load=JS, elem_id=elem_id,
                   head=f'<script src="/gradio_api/file={PLOTLY_JS}"></script>', min_height=560,
                   apply_default_css=False, server_functions=[hover_text], **kwargs)


def hover_text(request: object) -> str:
    """One point's hover text of a large map: ``request`` is ``[hover_key, point_id]``; "" when unknown."""
    if not isinstance(request, list | tuple) or len(request) != 2:
        return ""
    key, point = request
    if not isinstance(key, str) or isinstance(point, bool) or not isinstance(point, int | float):
        return ""
    with _hovers_lock:
        texts = _hovers.get(key)
        return "" if texts is None or point != int(point) else texts.get(int(point), "")


def with_point_ids(figure: go.Figure, ids_per_trace: list[np.ndarray] | None = None) -> go.Figure:
    """Give every marker its point id as ``customdata``; traces without ids keep none (legend items)."""
    if ids_per_trace is not None:
        for trace, ids in zip(figure.data, ids_per_trace, strict=True):
            trace.customdata = np.asarray(ids, dtype=np.int32)  # plotly.js decodes int32, not int64
    return figure


def figure_value(figure: go.Figure) -> str:
    """The figure as the map's value (plotly's JSON; numpy arrays as its base64 typed arrays).

    Past LAZY_HOVER_POINTS points with ids, their hover texts move to the server (see the module's doc).
    """
    traces = [t for t in figure.data if getattr(t, "customdata", None) is not None]
    if sum(len(t.customdata) for t in traces) > LAZY_HOVER_POINTS:
        texts: dict[int, str] = {}
        for trace in traces:
            hovers = trace.hovertext
            if hovers is None or isinstance(hovers, str):
                continue
            for point, text in zip(np.asarray(trace.customdata).reshape(-1).tolist(), hovers, strict=True):
                texts.setdefault(int(point), text)
            trace.hovertext = None
            trace.hoverinfo = "none"  # plotly still sends hover events, without a box of its own
        key = secrets.token_urlsafe(16)
        with _hovers_lock:
            _hovers[key] = texts
            while len(_hovers) > 1 and sum(map(len, _hovers.values())) > _HOVER_POINTS_KEPT:
                _hovers.popitem(last=False)
        figure.update_layout(meta={"hover_key": key})
    return json.dumps(json.loads(figure.to_json()), ensure_ascii=False)
