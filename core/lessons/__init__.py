"""Lessons and quizzes for a class: a lesson file walks the pages step by step, each step a page
with its settings preset; a quiz question is computed from the live model, so its answer is always
true for the model the student has selected."""
