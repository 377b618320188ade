"""What people hand the app: typed or pasted text and uploaded tables.

    text.py    cleaning, line splitting, prefixes, per-request text limits
    corpus.py  CSV, TSV, TXT, XLSX and Parquet files read as texts (with labels or embeddings)
"""
