"""A tiny corpus with three obvious themes and helpers for tests of fitted theme models."""

from __future__ import annotations

from cxroi.text.theme_model import ThemeModel

CORPUS = (
    ["The delivery was late and the courier lost my parcel."] * 3
    + ["Parcel delivery was quick, courier was polite."] * 3
    + ["Delivery took a week, parcel damaged.", "Courier never came, delivery failed."]
    + ["The price is too high, the invoice doubled."] * 3
    + ["Fair price, cheap plan, clear invoice.", "Price went up, invoice wrong again."]
    + ["Expensive price for this plan.", "The invoice price is confusing."]
    + ["The app crashes at login, screen freezes."] * 3
    + ["App login is easy, screen is clean.", "The app screen is slow to load."]
    + ["Login to the app failed twice.", "Great app, login with face id."]
)


def theme_of(model: ThemeModel, word: str) -> str:
    """The id of the discovered theme with ``word`` among its top three terms."""
    terms = model.themes_["terms"]
    return next(t for t, tt in zip(model.themes_["theme"], terms, strict=True) if word in tt[:3])


def fitted_copy(model: ThemeModel, **settings) -> ThemeModel:
    """A model with ``model``'s learned attributes and new settings (e.g. another config)."""
    m = ThemeModel(**settings)
    m.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    return m
