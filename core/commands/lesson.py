"""`python -m core lesson FILE|NAME [--model M] [--json]`: check a lesson and preview its answers.

A teacher's file is checked as the app checks an upload (a mistake: one line, `line N: …`, exit 2);
then every step is listed with the right answer of its question for `--model`, computed as the
lesson bar computes it, so the teacher sees before class what the model will say. With no
argument, lists the lessons in `lessons/` (a malformed file there: its line on stderr, exit 2).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("lesson", help="check a lesson file and preview its questions' answers")
    p.add_argument("lesson", nargs="?", help="a lesson file (YAML or JSON) or a built-in lesson's name")
    p.add_argument("--model", default="embedded", help="the model that answers the questions (default: embedded)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _preview(lesson, loaded) -> dict:
    from core.errors import UserError
    from core.lessons.quiz import make_quiz

    steps = []
    for i, step in enumerate(lesson.steps, 1):
        row = {"step": i, "page": step.page.name, "title": step.title, "state": step.state}
        if step.question is not None:
            try:
                quiz = make_quiz(loaded, step.question)
                row["question"] = {"prompt": quiz.prompt, "choices": list(quiz.choices), "answer": quiz.answer}
            except UserError as err:
                row["question"] = {"kind": step.question.kind, "error": str(err)}
        steps.append(row)
    return {"lesson": lesson.name, "title": lesson.title, "model": loaded.choice, "steps": steps}


def run(args) -> int:
    from core.lessons.lesson import read_lesson, read_lessons
    from core.models.loading import get_model

    builtin, refused = read_lessons()
    if args.lesson is None:
        listing = [{"lesson": n, "title": lesson.title, "steps": len(lesson.steps)} for n, lesson in builtin.items()]
        print(json.dumps(listing, indent=2) if args.json else
              "\n".join(f"{row['lesson']}: {row['title']} ({row['steps']} steps)" for row in listing))
        for name, reason in refused.items():
            print(f"error: lessons/{name}, {reason}", file=sys.stderr)
        return 2 if refused else 0
    lesson = builtin.get(args.lesson) or read_lesson(Path(args.lesson))
    preview = _preview(lesson, get_model(args.model))
    if args.json:
        print(json.dumps(preview, indent=2, ensure_ascii=False))
        return 0
    print(f"{preview['title']} — answers for {preview['model']}")
    for row in preview["steps"]:
        print(f"{row['step']:>2}. [{row['page']}] {row['title']}")
        question = row.get("question")
        if question:
            print(f"    ? {question['prompt']}".replace("  \n", " ") if "prompt" in question else
                  f"    ? ({question['kind']}) {question['error']}")
            if "answer" in question:
                print(f"      choices: {' | '.join(question['choices'])}\n      answer:  {question['answer']}")
    return 0
