"""Gradio components wired to core/; nothing here computes."""
