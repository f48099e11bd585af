"""The hostile inputs every page and CLI command must survive: shared by the reliability suites."""
from __future__ import annotations

HOSTILE_TEXTS = {
    "empty": "",
    "whitespace": " \t\n  ",
    "one char": "a",
    "punctuation": "?!.,;:",
    "10k words": "word " * 10_000,
    "600 tokens": " ".join(["antidisestablishment"] * 120),
    "emoji": "I love it 😍🔥🎉 [MASK] 👍🏽",
    "right-to-left": "مرحبا بالعالم هذا [MASK] اختبار",
    "zero-width": "zero\u200bwidth\u200djoin\ufeff [MASK] text",
    "control chars": "bell\x07 null\x00 escape\x1b[31m red [MASK]",
    "mixed scripts": "Hello мир 世界 γειά [MASK] नमस्ते",
    "html injection": "<script>alert('x')</script><img src=x onerror=alert(1)> [MASK]",
    "markdown injection": "# Title\n**bold** [link](javascript:alert(1)) ![img](x.png) [MASK]",
    "no mask": "The cat sat on the mat.",
    "50 masks": " ".join(["[MASK]"] * 50),
    "mask only": "[MASK]",
    "wrong mask token": "The capital of France is <mask>.",
    "accents": "Café déjà vu naïve coöperate [MASK] façade",
    "cjk": "我喜欢自然语言处理 [MASK] 東京",
    "very long word": "a" * 5000,
    "newlines only": "\n\n\n",
    "lone surrogate-ish": "text with \ufffd replacement [MASK] char",
}

BAD_MODELS = {
    "invalid hub id": "not a model id!!",
    "hub offline": "bert-base-uncased",
    "path escape": "local:../../etc",
    "absolute outside": "/etc",
    "non-model folder": "local:runs",
}
