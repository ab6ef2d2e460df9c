"""Text analytics on comments: frames and lists in, frames and arrays out (no workspace).

- :mod:`~cxroi.privacy`: personal data replaced before anything else sees the text.
- :mod:`~cxroi.text.sentiment`: lexicon (VADER) and score-aware sentiment.
- :mod:`~cxroi.text.theme_model`: theme discovery (TF-IDF + NMF) and sentence assignment.
- :mod:`~cxroi.text.theme_config`: the analyst's ``[themes]`` thresholds and edits.
- :mod:`~cxroi.text.theme_store`: saving and loading a fitted model (``models/themes.json``).
- :mod:`~cxroi.text.impact`: what each theme costs (NPS, key-driver weight, churn, revenue
  at risk) and which themes are emerging.
- :mod:`~cxroi.text.pipeline`: one parallel pass of redaction, sentiment and themes.

The workspace-level analyses (which comments, which ledger, which settings) are in
:mod:`cxroi.analyses.themes`.
"""
