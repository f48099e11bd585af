"""The sentences the pages propose before a user types anything, in one place.

A class trusts what the app offers: an example must be right for the model that shows it. So each
one here was chosen because the offline embedded model gets it right (its top guess is a right word,
its label the right label), and tests/test_examples.py checks every one of them, and every lesson
step, against that model. Change one only with the test's answer key beside it.
"""

# Masked words (top guess of the embedded model in brackets).
FILL_MASK = "The Pacific is the largest [MASK] on Earth."  # ocean
CLICK_TO_MASK = "The quick brown fox jumps over the lazy dog."  # a pangram: every word's surprise is the lesson
EXPLAIN_MASKED = "A week has seven [MASK]."  # days
INSIDE_BERT = "Birds can [MASK] because they have wings."  # fly

# A sentiment classifier fine-tuned on the built-in reviews: the "Try it" sentence and the Explain
# page's sentence, whose two halves pull opposite ways (what attributions should show).
TRY_SENTENCE = "The best meal I have had in years, and the service was excellent."
EXPLAIN_CLASSIFIER = "The waiter was rude and the soup was cold, but the dessert was lovely."


def with_mask(text: str, mask_token: str) -> str:
    """An example in the selected model's own mask token (RoBERTa writes `<mask>`)."""
    return text.replace("[MASK]", mask_token)
