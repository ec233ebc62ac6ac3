"""Results to text: rich tables for people, JSON, CSV and Markdown for scripts and docs."""

from convcalc.render.table import layer_card, network_table
from convcalc.render.text import to_csv, to_json, to_markdown

__all__ = ["layer_card", "network_table", "to_csv", "to_json", "to_markdown"]
