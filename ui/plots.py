"""Plotly figures for the tabs. User text is HTML-escaped before it reaches a hover or a label:
plotly renders a subset of HTML in those, and a corpus is untrusted input."""

from __future__ import annotations

import html
import textwrap

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from ui.i18n import t

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6",
           "#9D755D", "#BAB0AC", "#1F77B4", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2",
           "#7F7F7F", "#BCBD22", "#17BECF", "#AEC7E8"]
NOISE_COLOUR = "#C8C8C8"

# Every figure here is drawn on plotly's white template. Naming it per figure (update_layout(template=...))
# validates the whole template again each time: 30 of the 1 x 10 heatmap's 34 ms on a 2-core CPU,
# paid on every /similarity call. plotly applies its default template when a figure is
# made, without validating it (2.9 ms for the same heatmap), so the app sets the default once.
APP_TEMPLATE = "plotly_white"
pio.templates.default = APP_TEMPLATE


def hover_text(text: str, width: int = 60, max_chars: int = 400) -> str:
    """Escaped, wrapped, shortened: safe and readable inside a plotly hover box."""
    short = text if len(text) <= max_chars else text[: max_chars - 1] + "…"
    lines = textwrap.wrap(short, width=width) or [""]
    return "<br>".join(html.escape(line, quote=True) for line in lines)


def short_label(text: str, max_chars: int = 40) -> str:
    short = text if len(text) <= max_chars else text[: max_chars - 1] + "…"
    return html.escape(short.replace("\n", " "), quote=True)


def empty_figure(message: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=300,
                      annotations=[dict(text=html.escape(message), showarrow=False, font_size=14)])
    return fig


# Up to this many cells each hover box carries both full texts; beyond, the hover names the row and
# column labels instead, so the figure grows with queries + passages, not queries x passages (a
# 100 x 1,000 request made an 80 MB figure with a text hover per cell).
FULL_HOVER_CELLS = 2_500
# Numbers printed inside cells stop being readable long before this.
CELL_TEXT_CELLS = 400


def similarity_heatmap(scores: np.ndarray, queries: list[str], passages: list[str],
                       threshold: float | None = None) -> go.Figure:
    """Cosine x 100 with queries as rows, like the model card's score matrix; with the person's own
    ``threshold``, the cells at or above it are printed in bold and the title says so."""
    y = [f"q{i + 1}: {short_label(t)}" for i, t in enumerate(queries)]
    x = [f"p{j + 1}: {short_label(t)}" for j, t in enumerate(passages)]
    cells = scores.size
    rounded = np.round(scores, 2)
    trace = dict(z=rounded, x=x, y=y, colorscale="Blues", colorbar_title="cos×100")
    words = (t("colh_query"), t("colh_passage"), t("colh_score"))
    if cells <= CELL_TEXT_CELLS:
        if threshold is None:
            trace.update(text=rounded, texttemplate="%{text:.2f}")
        else:
            # Compared as shown (two decimals): the threshold's own pair, scored by another matrix product,
            # may differ from it in the sixth digit.
            line = round(threshold, 2)
            marked = [[f"<b>{v:.2f}</b>" if v >= line else f"{v:.2f}" for v in row] for row in rounded]
            trace.update(text=marked, texttemplate="%{text}")
    if cells <= FULL_HOVER_CELLS:
        trace.update(hoverinfo="text", hovertext=[
            [f"<b>{words[0]}</b> {hover_text(q)}<br><b>{words[1]}</b> {hover_text(p)}<br><b>{words[2]}</b> "
             f"{scores[i, j]:.2f}" for j, p in enumerate(passages)] for i, q in enumerate(queries)])
    else:
        trace.update(hovertemplate=f"<b>{words[0]}</b> %{{y}}<br><b>{words[1]}</b> %{{x}}<br><b>{words[2]}</b> "
                                   "%{z:.2f}<extra></extra>")
    fig = go.Figure(go.Heatmap(**trace))
    fig.update_layout(
        height=min(max(260, 80 + 44 * len(queries)), 1_200),
        margin=dict(l=10, r=10, t=30, b=10), yaxis_autorange="reversed",
        # The threshold's note in the title: as the colour bar's title it ran over the bar's numbers.
        title=t("plot_heatmap_title") + (" · " + t("plot_threshold_bold", threshold=f"{threshold:.1f}")
                                         if threshold is not None else ""),
    )
    return fig


# Beyond this many queries or passages a heatmap's cells and labels stop being readable (5 x 60 was "an
# unreadable strip"): the tab shows one query at a time as bars instead.
HEATMAP_MAX = 20
# Bars drawn per query in that view (more when the ranking's k asks for more).
VIEW_PASSAGES = 20


def score_axis(values: np.ndarray, threshold: float | None = None) -> list[float]:
    """An x range from just below the lowest shown score to just above the highest (and the threshold):
    e5's cosines sit between 77 and 92, so bars from 0 looked alike (issue 26)."""
    marks = [float(np.min(values)), float(np.max(values))] if len(values) else [0.0, 100.0]
    if threshold is not None:
        marks.append(float(threshold))
    low, high = min(marks), max(marks)
    pad = max(high - low, 1.0) * 0.12  # room for the score printed at the end of the shortest bar
    return [low - pad, high + pad]


def similarity_per_query(query_index: int, query: str, passage_ids: np.ndarray, scores: np.ndarray,
                         passages: list[str], n_queries: int, threshold: float | None = None) -> go.Figure:
    """One query's best passages as horizontal bars, best on top, each labelled with its score; the axis
    starts just below the lowest score, and the person's own ``threshold`` is a dashed line."""
    ids = [int(i) for i in passage_ids]
    values = np.round(np.asarray(scores, dtype=np.float64), 2)
    labels = [f"p{j + 1}: {short_label(passages[j], 50)}" for j in ids]
    fig = go.Figure(go.Bar(
        x=values, y=labels, orientation="h", marker_color=PALETTE[0], text=[f"{v:.2f}" for v in values],
        textposition="auto", cliponaxis=False, hoverinfo="text",
        hovertext=[f"<b>{t('plot_passage', n=j + 1)}</b> {hover_text(passages[j])}<br><b>{t('colh_score')}</b> {v:.2f}"
                   for j, v in zip(ids, values, strict=True)]))
    fig.update_layout(
        height=min(max(260, 90 + 26 * len(ids)), 1_200),
        margin=dict(l=10, r=10, t=50, b=10), yaxis=dict(autorange="reversed", automargin=True),
        xaxis=dict(title=t("plot_cosine"), range=score_axis(values, threshold)), hoverlabel=dict(align="left"),
        title=t("plot_per_query_title", q=query_index + 1, n=n_queries, query=short_label(query, 70), top=len(ids),
                passages=len(passages)),
    )
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="#d62728",
                      annotation_text=t("plot_threshold", threshold=f"{threshold:.1f}"),
                      annotation_position="bottom left", annotation_font_color="#d62728")
    return fig


# Longest model name a side-by-side subplot title keeps: three titles share the width, and at 1,400 px
# each has about 430 px, some 50 characters at plotly's 16 px; 32 leaves room for the "A: " and a margin.
SIDE_TITLE_CHARS = 32


def similarity_side_by_side(first: np.ndarray, second: np.ndarray, names: tuple[str, str], queries: list[str],
                            passages: list[str]) -> go.Figure:
    """Two models' cosine x 100 on the same pairs, and the change from the first to the second (second
    minus first, the sign of the table's "change": what a tuned model gained over its base is positive).

    The subplot titles call the models A and B with shortened names, so that three titles never run into
    each other; the hover boxes carry the full names.
    """
    y = [f"q{i + 1}: {short_label(t)}" for i, t in enumerate(queries)]
    x = [f"p{j + 1}: {short_label(t)}" for j, t in enumerate(passages)]
    titles = [f"A: {short_label(names[0], SIDE_TITLE_CHARS)}", f"B: {short_label(names[1], SIDE_TITLE_CHARS)}",
              t("plot_side_change", a="A", b="B")]
    hovers = [html.escape(names[0]), html.escape(names[1]),
              t("plot_side_change", a=html.escape(names[0]), b=html.escape(names[1]))]
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.06)
    text = first.size <= CELL_TEXT_CELLS
    low, high = float(min(first.min(), second.min())), float(max(first.max(), second.max()))
    for col, (z, scale) in enumerate(((first, "Blues"), (second, "Blues"), (second - first, "RdBu")), start=1):
        rounded = np.round(z, 2)
        limits = dict(zmin=low, zmax=high) if col < 3 else dict(zmid=0)
        fig.add_trace(go.Heatmap(
            z=rounded, x=x, y=y, colorscale=scale, showscale=col == 3, **limits,
            text=rounded if text else None, texttemplate="%{text:.2f}" if text else None,
            hovertemplate=f"<b>{t('colh_query')}</b> %{{y}}<br><b>{t('colh_passage')}</b> %{{x}}<br>%{{z:.2f}}<extra>"
            + hovers[col - 1] + "</extra>"), row=1, col=col)
        fig.update_xaxes(showticklabels=len(passages) <= 6, row=1, col=col)
        fig.update_yaxes(autorange="reversed", showticklabels=col == 1, row=1, col=col)
    # The figure's title sits above the subplot titles, with room between them (t=50 let them touch).
    fig.update_layout(height=min(max(320, 120 + 44 * len(queries)), 1_200),
                      margin=dict(l=10, r=10, t=80, b=10), title=dict(text=t("plot_side_title"), y=0.98,
                                                                     yanchor="top"))
    return fig


def cluster_map(points: pd.DataFrame, colour_by: str = "cluster", title: str = "",
                names: dict[int, str] | None = None) -> go.Figure:
    """WebGL scatter of (x, y); one trace per group so the legend toggles groups (clusters by their names)."""
    fig = go.Figure()
    words = (t("plot_legend_cluster"), t("plot_legend_label"))  # in the page's language, as the title
    groups = points[colour_by].astype(str) if colour_by in points else points["cluster"].astype(str)
    order = sorted(groups.unique(), key=lambda g: (g == "-1", _natural(g)))
    for i, group in enumerate(order):
        part = points[groups == group]
        name = t("plot_noise") if colour_by == "cluster" and group == "-1" else group
        if colour_by == "cluster" and names and group != "-1" and _natural(group)[0] == 0:
            given = names.get(int(group), "")
            name = f"{group} · {given}" if given else group
        hovers = [
            f"{hover_text(text)}<br><b>{words[0]}</b> {c}" + (f"<br><b>{words[1]}</b> {html.escape(str(lab))}"
                                                              if has else "")
            for text, c, lab, has in zip(part["text"], part["cluster"], part.get("label", [""] * len(part)),
                                         ["label" in part] * len(part), strict=True)
        ]
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers", name=html.escape(name),
            # Each point's row in ``points``: what a selection on the map reports back.
            customdata=part.index.to_numpy(dtype=np.int32),
            marker=dict(size=7, opacity=0.8,
                        color=NOISE_COLOUR if group == "-1" and colour_by == "cluster" else PALETTE[i % len(PALETTE)]),
            hovertext=hovers, hoverinfo="text",
        ))
    fig.update_layout(
        height=560, margin=dict(l=10, r=10, t=40, b=10), title=html.escape(title),
        xaxis=dict(showticklabels=False, title=None), yaxis=dict(showticklabels=False, title=None),
        legend=dict(title=words[1] if colour_by == "label" else words[0], itemsizing="constant"),
        hoverlabel=dict(align="left"),
    )
    return fig


def with_highlight(figure: go.Figure, points: pd.DataFrame, ids: list[int], name: str) -> go.Figure:
    """Ring the points ``ids`` (rows of ``points``) in a trace of their own, which the legend can hide."""
    part = points.iloc[list(ids)] if len(ids) else points.iloc[[]]
    figure.add_trace(go.Scattergl(
        x=part["x"], y=part["y"], mode="markers", name=html.escape(name), customdata=part.index.to_numpy(np.int32),
        marker=dict(size=13, color="rgba(0,0,0,0)", line=dict(width=2, color="#d62728")),
        hovertext=[hover_text(t) for t in part["text"]], hoverinfo="text",
    ))
    return figure


PREFIX_VARIANTS = ("query", "passage", "none")


def variant_label(name: str) -> str:
    """A prefix variant of core.exploration.prefix_compare ("query", "none", "query - none") as the page says it."""
    if " - " in name:
        first, second = name.split(" - ", 1)
        return t("px_variant_diff", a=variant_label(first), b=variant_label(second))
    return t(f"px_variant_{name}") if name in PREFIX_VARIANTS else name


def matrices_figure(matrices: dict[str, np.ndarray], texts: list[str]) -> go.Figure:
    """The variants' similarity matrices side by side, then their differences."""
    names = list(matrices)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[html.escape(variant_label(n)) for n in names],
                        horizontal_spacing=0.04)
    labels = [f"{i + 1}" for i in range(len(texts))]
    word = t("colh_text")
    for col, name in enumerate(names, start=1):
        diff = " - " in name or "−" in name
        matrix = np.asarray(matrices[name])
        fig.add_trace(go.Heatmap(
            z=np.round(matrix, 3), x=labels, y=labels, coloraxis="coloraxis2" if diff else "coloraxis",
            hovertemplate=f"{word} %{{y}} × {word} %{{x}}: %{{z:.3f}}<extra>" + html.escape(variant_label(name))
            + "</extra>",
        ), row=1, col=col)
        fig.update_yaxes(autorange="reversed", row=1, col=col, showticklabels=col == 1)
    fig.update_layout(
        height=380, margin=dict(l=10, r=10, t=40, b=10),
        coloraxis=dict(colorscale="Blues", colorbar=dict(x=1.0, len=0.45, y=0.75, title="cos")),
        coloraxis2=dict(colorscale="RdBu", cmid=0, colorbar=dict(x=1.0, len=0.45, y=0.22, title="Δ")),
    )
    return fig


def prefix_map(map_points: pd.DataFrame, texts: list[str], reference: str = "none") -> go.Figure:
    """Each text's points under every variant, with a line from the unprefixed point to each prefixed one."""
    fig = go.Figure()
    colours = {"none": "#7F7F7F", "query": "#4C78A8", "passage": "#F58518"}
    ref = map_points[map_points["variant"] == reference].set_index("text_index")
    for variant in [v for v in map_points["variant"].unique() if v != reference]:
        part = map_points[map_points["variant"] == variant].set_index("text_index")
        xs, ys = [], []
        for idx, row in part.iterrows():
            if idx in ref.index:
                xs += [ref.at[idx, "x"], row["x"], None]
                ys += [ref.at[idx, "y"], row["y"], None]
        fig.add_trace(go.Scattergl(x=xs, y=ys, mode="lines", line=dict(width=1, color=colours.get(variant, "#999")),
                                   opacity=0.45, hoverinfo="skip", showlegend=False))
    for variant in map_points["variant"].unique():
        part = map_points[map_points["variant"] == variant]
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers", name=html.escape(variant_label(variant)),
            marker=dict(size=8, color=colours.get(variant, "#999"), symbol="circle" if variant == reference else "diamond"),
            hovertext=[f"<b>{html.escape(variant_label(variant))}</b> #{i + 1}<br>{hover_text(texts[i])}"
                       for i in part["text_index"]],
            hoverinfo="text",
        ))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=40, b=10),
                      title=t("plot_prefix_map_title"),
                      xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False))
    return fig


def _natural(value: str):
    try:
        return (0, int(value), "")
    except ValueError:
        return (1, 0, value)
