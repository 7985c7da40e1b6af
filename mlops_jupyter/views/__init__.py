"""Pure renderers for the notebook faces: run events and api results in, SVG / HTML / text out.

Standard library only, no I/O: the widgets (``widgets.py``) put this markup into ipywidgets and
into the ``text/html`` / ``text/plain`` fallbacks, so a static render (nbconvert, GitHub) reads
the same as the live view.
"""
