"""The wizard draws its selects in Python (``QuickSelect``): the HTML must be exactly
what Django's select templates give, for every select, chosen value and an unknown
submitted format alike."""

from __future__ import annotations

import pytest
from django import forms
from django.http import QueryDict

from configurator import wizard

pytestmark = pytest.mark.usefixtures("seeded")

QUERIES = [
    "",
    "model=llama-3-1-70b-instruct&quant=Q8_0&mode=qlora&objective=fastest&form=tower"
    "&stack=rocm&engine=vllm&kv_quant=Q8_0",
    "model=llama-3-1-8b-instruct&quant=NOT-A-FORMAT&objective=<b>&form=x%22y",
]


@pytest.mark.parametrize("query", QUERIES)
def test_quick_selects_draw_what_django_templates_draw(query: str) -> None:
    formats = wizard.quant_formats()
    form = wizard.wizard_form(QueryDict(query) if query else None, formats)
    shown = wizard.display_form(form, formats) if query else form
    selects = [bf for bf in shown if isinstance(bf.field.widget, forms.Select)]
    assert len(selects) >= 7
    for bound in selects:
        widget = bound.field.widget
        assert type(widget) is wizard.QuickSelect, bound.name
        quick = str(bound)
        widget.__class__ = forms.Select
        try:
            reference = str(bound)
        finally:
            widget.__class__ = wizard.QuickSelect
        assert quick == reference, bound.name
        assert "<option" in quick and quick.count("<option") == len(list(widget.choices))
