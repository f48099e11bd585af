"""A lesson file: ordered steps, each a page with preset settings, a short text and maybe a question.

    title: Attention heads and what they do
    summary: One line for the lesson picker.
    steps:
      - page: attention             # a page's name (its address): tokens, attention, masked, ...
        title: One head
        text: Markdown for the student.
        state:                      # the page's own address parameters, as "Share this view" writes them
          attn_text: The cat sat on the mat.
          attn_tab: One head
        question:                   # optional; computed from the live model (see quiz.py)
          kind: fill-mask           # fill-mask | previous-token-head | ig-top-word | choice
          sentence: The capital of France is [MASK].

A step is a shared link with a lesson text beside it, so anything a page can share, a lesson can
preset. YAML or JSON (JSON is YAML). Teachers write these by hand, so every mistake is refused with
its line and the reason, before the lesson reaches a class.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.errors import UserError
from core.inputs.links import TEXT_CAP
from core.lessons.pages import ROOT, PageInfo, page_catalog

LESSONS_DIR = ROOT / "lessons"
MAX_BYTES = 64_000  # a lesson is a page of text, not a corpus
MAX_STEPS = 40
TEXT_LIMIT = 4_000  # a step's text: a few paragraphs
KINDS = {  # question kind -> its fields besides `kind`, required then optional
    "fill-mask": (("sentence",), ()),
    "previous-token-head": (("sentence",), ()),
    "ig-top-word": (("sentence",), ()),
    "choice": (("prompt", "choices", "answer"), ("why",)),
}
MASKED_KINDS = ("fill-mask", "ig-top-word")


@dataclass(frozen=True)
class Question:
    kind: str
    sentence: str = ""
    prompt: str = ""
    choices: tuple[str, ...] = ()
    answer: str = ""
    why: str = ""


@dataclass(frozen=True)
class Step:
    page: PageInfo
    title: str
    text: str
    state: dict[str, list[str]] = field(default_factory=dict)  # address parameter -> its value(s)
    question: Question | None = None


@dataclass(frozen=True)
class Lesson:
    name: str  # the file's stem: what a link names (`?lesson=`)
    title: str
    summary: str
    steps: tuple[Step, ...]


def _fail(node, reason: str):
    raise UserError(f"line {node.start_mark.line + 1}: {reason}")


def _fields(node, where: str, required: tuple, optional: tuple = ()) -> dict:
    """The fields of a mapping node (name -> value node); unknown, repeated or missing ones refused."""
    if not isinstance(node, yaml.MappingNode):
        _fail(node, f"{where} must be fields written as `name: value`.")
    allowed, found = required + optional, {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name not in allowed:
            _fail(key, f"unknown field '{name}' in {where} (expected {', '.join(allowed)}).")
        if name in found:
            _fail(key, f"'{name}' appears twice in {where}.")
        found[name] = value
    for name in required:
        if name not in found:
            _fail(node, f"{where} needs a '{name}' field.")
    return found


def _text(node, what: str, limit: int = TEXT_LIMIT, empty_ok: bool = False) -> str:
    """A scalar as text (`5` and `true` are text too: address parameters are strings)."""
    if not isinstance(node, yaml.ScalarNode):
        _fail(node, f"{what} must be a single value, not a list or a mapping.")
    text = "" if node.tag == "tag:yaml.org,2002:null" else node.value
    if not text.strip() and not empty_ok:
        _fail(node, f"{what} is empty.")
    if len(text) > limit:
        _fail(node, f"{what} has {len(text):,} characters; at most {limit:,}.")
    return text


def _list(node, what: str) -> list:
    if not isinstance(node, yaml.SequenceNode):
        _fail(node, f"{what} must be a list (lines starting with '- ').")
    return node.value


def _state(node, page: PageInfo) -> dict[str, list[str]]:
    if not isinstance(node, yaml.MappingNode):
        _fail(node, "state must be the page's settings written as `name: value`.")
    state: dict[str, list[str]] = {}
    for key, value in node.value:
        name = _text(key, "a setting's name", 60)
        if name not in page.settings:
            _fail(key, f"the {page.name} page has no setting '{name}' (it has {', '.join(sorted(page.settings))}).")
        if name in state:
            _fail(key, f"'{name}' appears twice in this step's state.")
        values = _list(value, f"'{name}'") if isinstance(value, yaml.SequenceNode) else [value]
        state[name] = [_text(v, f"'{name}'", TEXT_CAP, empty_ok=True) for v in values]
    return state


def _question(node) -> Question:
    if not isinstance(node, yaml.MappingNode):
        _fail(node, "a question must be fields written as `name: value`.")
    kind_node = next((v for k, v in node.value if getattr(k, "value", None) == "kind"), None)
    if kind_node is None:
        _fail(node, f"a question needs a 'kind' field ({', '.join(KINDS)}).")
    kind = _text(kind_node, "kind", 40)
    if kind not in KINDS:
        _fail(kind_node, f"unknown question kind '{kind}' (kinds: {', '.join(KINDS)}).")
    required, optional = KINDS[kind]
    found = _fields(node, f"a {kind} question", ("kind", *required), optional)
    if kind != "choice":
        sentence = _text(found["sentence"], "sentence", TEXT_CAP)
        masks = sentence.count("[MASK]") + sentence.count("<mask>")
        if kind in MASKED_KINDS and masks != 1:
            _fail(found["sentence"], f"a {kind} question needs exactly one [MASK] in its sentence (found {masks}).")
        return Question(kind, sentence=sentence)
    choices = tuple(_text(c, "a choice", 200) for c in _list(found["choices"], "choices"))
    if not 2 <= len(set(choices)) == len(choices) <= 6:
        _fail(found["choices"], "a choice question needs 2 to 6 different choices.")
    answer = _text(found["answer"], "answer", 200)
    if answer not in choices:
        _fail(found["answer"], f"the answer '{answer}' is not one of the choices.")
    why = _text(found["why"], "why", empty_ok=True) if "why" in found else ""
    return Question(kind, prompt=_text(found["prompt"], "prompt"), choices=choices, answer=answer, why=why)


def _step(node, pages: dict[str, PageInfo]) -> Step:
    found = _fields(node, "a step", ("page", "text"), ("title", "state", "question"))
    name = _text(found["page"], "page", 60)
    if name not in pages:
        _fail(found["page"], f"unknown page '{name}' (pages: {', '.join(pages)}).")
    page = pages[name]
    return Step(page, _text(found["title"], "title", 120) if "title" in found else page.title,
                _text(found["text"], "text"),
                _state(found["state"], page) if "state" in found else {},
                _question(found["question"]) if "question" in found else None)


def parse_lesson(text: str, name: str, pages: dict[str, PageInfo] | None = None) -> Lesson:
    """Read and check a lesson; a UserError says `line N: what is wrong` for the first mistake."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise UserError(f"A lesson file can be at most {MAX_BYTES // 1000} KB.")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:  # where the parser gave up, and where the unclosed part began
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        began = ""
        if err.context and err.context_mark and mark and err.context_mark.line != mark.line:
            began = f" (in {err.context.removeprefix('while parsing ')} that starts on line {err.context_mark.line + 1})"
        raise UserError(f"{where}this is not valid YAML or JSON: {err.problem or err.context}{began}.") from None
    except yaml.YAMLError as err:
        raise UserError(f"This is not valid YAML or JSON ({err}).") from None
    if root is None:
        raise UserError("The lesson file is empty.")
    found = _fields(root, "the lesson", ("title", "steps"), ("summary",))
    steps = _list(found["steps"], "steps")
    if not 1 <= len(steps) <= MAX_STEPS:
        _fail(found["steps"], f"a lesson needs 1 to {MAX_STEPS} steps (this one has {len(steps)}).")
    pages = page_catalog() if pages is None else pages
    return Lesson(name, _text(found["title"], "title", 120),
                  _text(found["summary"], "summary", 300) if "summary" in found else "",
                  tuple(_step(s, pages) for s in steps))


def read_lesson(path: Path) -> Lesson:
    """A lesson file from disk (its stem names it)."""
    try:
        data = path.read_bytes()[:MAX_BYTES + 1]
    except OSError as err:
        raise UserError(f"Cannot read '{path}': {err.strerror}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("A lesson file must be UTF-8 text (YAML or JSON).") from None
    return parse_lesson(text, path.stem)


def read_lessons(folder: Path | None = None) -> tuple[dict[str, Lesson], dict[str, str]]:
    """The lessons in `folder` (default: lessons/) by name, in file-name order (so `1-…` comes first),
    and every file refused with its reason: a teacher's mistake there must not take the others down."""
    lessons, refused = {}, {}
    for path in sorted(p for p in (folder or LESSONS_DIR).iterdir() if p.suffix in (".yaml", ".yml", ".json")):
        try:
            lessons[path.stem] = read_lesson(path)
        except UserError as err:
            refused[path.name] = str(err)
    return lessons, refused


def builtin_lessons() -> dict[str, Lesson]:
    """The lessons shipped in `lessons/`, all of them well formed (a refused one is an error here)."""
    lessons, refused = read_lessons()
    if refused:
        name, reason = next(iter(refused.items()))
        raise UserError(f"lessons/{name}, {reason}")
    return lessons
