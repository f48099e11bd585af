"""Home: what BERT is, what each page teaches, and the selected model drawn to scale."""
from pages._startup import start

start()  # first, before the heavy imports below: see pages/_startup.py

import streamlit as st

from core.figures.diagram import architecture_dot
from core.lessons.pages import page_purposes
from pages._common import current_model

NUMBERING = ("**How layers and heads are numbered, on every page:** from 1, as people count. Layer 0 is "
             "the embeddings (the input to layer 1), so layer *l*'s output is the vector the Layers page "
             "shows at layer *l*. bertviz's own menus and the command line count from 0, as transformers does.")

st.title("🧸 BERT Playground")
st.markdown(
    """
**BERT** (Bidirectional Encoder Representations from Transformers, Devlin et al. 2018) reads a
whole sentence at once and turns every token into a vector that depends on *all* the other
tokens, left and right. It learned this by two games played on billions of words:
**guess the hidden word** (masked language modelling) and **does sentence B follow sentence A?**
(next-sentence prediction). Fine-tuned with a small labelled dataset, the same network
classifies sentiment, answers questions and tags names.

This playground opens the box. Every page works offline with the embedded model, a real
pretrained 6-layer BERT; pick a hub model in the sidebar when you are online.
"""
)

model = current_model()
left, right = st.columns([3, 2])
with left:
    st.subheader("The model you picked, to scale")
    st.graphviz_chart(architecture_dot(model.summary()), width="stretch")
with right:
    st.subheader("What each page teaches")
    for path, title, icon, purpose in page_purposes():
        st.page_link(path, label=title, icon=icon)
        st.caption(purpose)
    st.caption(NUMBERING)
    s = model.summary()
    st.metric("Parameters", f"{s['parameters'] / 1e6:.1f}M")
    st.caption(f"{s['layers']} layers · hidden size {s['hidden']} · {s['heads']} heads · "
               f"vocabulary {s['vocab']:,} · at most {s['max_length']} tokens")
    if st.button("🔏 Fingerprint the weights", key="fingerprint",
                 help="A SHA-256 of every weight, computed now. Everyone on this server shares this copy of "
                      "the model and no page changes it (fine-tuning trains a copy), so it stays the same."):
        st.caption(f"SHA-256 of the weights: `{model.fingerprint()[:16]}`")
