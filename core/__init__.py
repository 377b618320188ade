"""USER Studio core: encoding, projection, clustering and feedback. Never imports gradio."""

__version__ = "0.1.0"
