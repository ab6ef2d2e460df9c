"""Library errors name parameters; the CLI writes them as its flags."""

from __future__ import annotations

from cxroi.errors import CxroiError, NotFittedError, param


def test_param_reads_as_the_python_name_by_default():
    e = CxroiError(f"bad {param('by')} {'x'!r}; pass {param('skip_bad', True)}")
    assert str(e) == "bad by 'x'; pass skip_bad=True"


def test_render_with_a_namer():
    e = CxroiError(f"pass {param('skip_bad', True)} or {param('map')}")
    assert e.render(lambda n, v: f"<{n}|{v}>") == "pass <skip_bad|True> or <map|None>"


def test_not_fitted_is_an_attribute_error_too():
    assert issubclass(NotFittedError, AttributeError)
    assert issubclass(NotFittedError, CxroiError)
