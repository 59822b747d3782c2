"""Gradio chat over the article index: formats what the qa API returns, nothing more."""
from __future__ import annotations

import argparse
import html
import os

import qa

EXAMPLES = [
    "Who became acting prime minister of Kazakhstan?",
    "Why is Samat Abish under investigation?",
    "Did Kazakhstan recognise Luhansk and Donetsk?",
]


def _escape_md(text: str) -> str:
    """Article text is shown as text: escape HTML and neutralise Markdown syntax."""
    out = html.escape(text, quote=False)
    for ch in "\\`*_[]#|~>!":
        out = out.replace(ch, "\\" + ch)
    return out


def respond(message: str, history: list) -> str:
    try:
        passages = qa.retrieve(message, k=5)
    except ValueError as exc:
        return f"⚠️ {_escape_md(str(exc))}"
    except qa.QAError as exc:
        return f"⚠️ The index cannot be used: {_escape_md(str(exc))}"
    if not passages:
        return "No passages found."
    parts = []
    for i, p in enumerate(passages, 1):
        parts.append(f"**[{i}] {_escape_md(p.citation)}**\n\n{_escape_md(p.text)}")
    return "\n\n---\n\n".join(parts)


def build_ui():
    import gradio as gr

    return gr.ChatInterface(
        respond,
        title="Ask the articles",
        description="Answers are passages quoted from the indexed news articles, each with its source.",
        examples=EXAMPLES,
        run_examples_on_click=True,
        cache_examples=False,
        flagging_mode="never",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Chat with the article index in your browser.")
    parser.add_argument("--host", default=os.environ.get("QA_HOST", "127.0.0.1"), help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("QA_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    args = parser.parse_args(argv)
    build_ui().launch(server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
