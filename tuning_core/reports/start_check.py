"""Whether the store lets a spec start now: the New-study form's one read of the store.

The form's checks (``views/forms.py``) are pure page logic; this one needs the store, so the
page asks it here and hands the sentence to ``forms.form_problems``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.records import start_conflict as conflict_in
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import Store


def start_conflict(storage: str | None, raw: dict[str, Any]) -> str | None:
    """Why the spec ``raw`` cannot start in the store at ``storage`` now, in the sentence the
    CLI prints (a same-named study with other settings, or one a live worker runs), or None.

    None too when there is no store yet (nothing to clash with) or the spec does not parse
    (the form says why on its own).
    """
    if storage is None or not Path(storage).exists():
        return None
    try:
        spec = parse_spec(raw)
    except SpecError:
        return None
    with Store(storage) as store:
        return conflict_in(store, spec)
