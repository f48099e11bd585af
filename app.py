"""BERT Playground: page config, navigation over the pages, and the shared sidebar."""
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="BERT Playground", page_icon="🧸", layout="wide")

from pages._startup import start  # noqa: E402  (after set_page_config)

start()  # before the heavy imports: see pages/_startup.py

from pages._common import note_unused_link_params, share_and_save, sidebar  # noqa: E402
from pages._lesson import arrive_at_step, lesson_bar  # noqa: E402

ROOT = Path(__file__).parent
# The course order. A page appears once its script exists.
PAGES = [
    ("pages/home.py", "Home", "🏠"),
    ("pages/tokens.py", "Tokens & embeddings", "🔤"),
    ("pages/attention.py", "Attention", "👀"),
    ("pages/layers.py", "Layers", "🧅"),
    ("pages/masked.py", "Masked words & NSP", "🎭"),
    ("pages/inside_bert.py", "Inside BERT", "🔬"),
    ("pages/augment.py", "Augmentation", "🧪"),
    ("pages/finetune.py", "Fine-tuning", "🏋️"),
    ("pages/explain.py", "Explain a prediction", "🔎"),
    ("pages/lab.py", "Pretraining lab", "🧫"),
]

# A classroom projector is 1024 × 768: a page's tabs wrap onto a second row there instead of hiding
# behind a scroll arrow. (A style-only st.html applies to the whole app and takes no room.)
st.html("<style>[data-testid='stTabs'] [role='tablist'] {flex-wrap: wrap; row-gap: .25rem}</style>")

navigation = st.navigation(
    [st.Page(path, title=title, icon=icon, default=(i == 0))
     for i, (path, title, icon) in enumerate(PAGES) if (ROOT / path).is_file()]
)
page = navigation.url_path or Path(PAGES[0][0]).stem  # the script's name (the default page's address is "")
arrive_at_step(page)  # a lesson link's settings, before anything reads them
share_slot = sidebar()
lesson_bar(page)
navigation.run()
note_unused_link_params(page)
share_and_save(share_slot, page, navigation.title)
