"""Looking at a corpus: clusters, their keywords, 2-D maps, selections on them, and prefix comparisons.

    clustering.py      k-means / HDBSCAN / agglomerative in the scikit-learn pattern; tables and metrics
    keywords.py        a cluster's top keywords as lemmas, and a name from them
    projection.py      UMAP (or PCA for tiny inputs) to 2-D, deterministic by seed
    selection.py       which points a lasso, box, click or search picked
    prefix_compare.py  the same texts with `query: `, `passage: ` and no prefix, side by side
    cluster_view.py    a clustering as the Clustering tab shows and exports it (no gradio)
"""
