"""A plotly map people can select on: lasso, box and click reach Python as point ids.

``gr.Plot`` has only a ``change`` event, so the map is a ``gr.HTML`` whose ``js_on_load`` draws the
figure with plotly.js (from the ``plotly`` package, served by Gradio: no CDN) and calls
``trigger('select', {index: ids})`` on plotly's selection and click events; ``.select(fn)`` then
gets a ``gr.SelectData`` whose ``index`` is the list of point ids (each trace's ``customdata``).
Clicking empty space or double-clicking sends an empty selection. The value is the figure as JSON
(the same figure ``gr.Plot`` showed), so API callers still receive a plotly figure.

Ids come from the browser and are checked on the server (:func:`core.selection.selected_ids`).
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import numpy as np
import plotly
import plotly.graph_objects as go

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"

# Constant, so a new value never re-renders (and wipes) the drawn plot; js_on_load draws into it.
TEMPLATE = "<div class='user-studio-map' style='width:100%;min-height:560px'></div>"
# A finished selection's outline would swallow later clicks; points stay clickable through it.
CSS = ".selectionlayer path { pointer-events: none; } .user-studio-map { width: 100%; }"
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
function draw() {
  if (!props.value || typeof Plotly === 'undefined') return;
  let figure;
  try { figure = JSON.parse(props.value); } catch (e) { return; }
  if (drawn === props.value) return;
  drawn = props.value;
  const layout = Object.assign({}, figure.layout || {}, {dragmode: (figure.layout || {}).dragmode || 'lasso'});
  Plotly.react(box, figure.data || [], layout, {responsive: true, displaylogo: false});
  if (!box._userStudioHooked) {
    box._userStudioHooked = true;
    box.on('plotly_selected', ev => trigger('select', {index: ev ? ids(ev.points) : [], value: 'selected', selected: true}));
    box.on('plotly_click', ev => trigger('select', {index: ids(ev.points), value: 'clicked', selected: true}));
    box.on('plotly_deselect', () => trigger('select', {index: [], value: 'cleared', selected: false}));
    box.on('plotly_doubleclick', () => trigger('select', {index: [], value: 'cleared', selected: false}));
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
"""


def allow_plotly_js() -> None:
    """Let Gradio serve plotly.min.js from the installed package (call before building the app)."""
    gr.set_static_paths([str(PLOTLY_JS.parent)])


def map_component(elem_id: str, value: str | None = None, **kwargs) -> gr.HTML:
    """The map; ``value`` is :func:`figure_value` of the figure to show first."""
    allow_plotly_js()
    return gr.HTML(value=value, html_template=TEMPLATE, css_template=CSS, js_on_load=JS, elem_id=elem_id,
                   head=f'<script src="/gradio_api/file={PLOTLY_JS}"></script>', min_height=560,
                   apply_default_css=False, **kwargs)


def with_point_ids(figure: go.Figure, ids_per_trace: list[np.ndarray] | None = None) -> go.Figure:
    """Give every marker its point id as ``customdata``; traces without ids keep none (legend items)."""
    if ids_per_trace is not None:
        for trace, ids in zip(figure.data, ids_per_trace, strict=True):
            trace.customdata = np.asarray(ids, dtype=np.int32)  # plotly.js decodes int32, not int64
    return figure


def figure_value(figure: go.Figure) -> str:
    """The figure as the map's value (plotly's JSON, numpy arrays as plain lists)."""
    return json.dumps(json.loads(figure.to_json()), ensure_ascii=False)
