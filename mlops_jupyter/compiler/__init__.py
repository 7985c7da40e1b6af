"""The compiler: a notebook in, a validated :class:`~.model.Pipeline` and its compiled folder out.

Pure analysis (``notebook`` → ``tags`` → ``stages`` → ``cells`` → ``syntax``/``analysis`` →
``build``) with I/O only at the edges (``notebook.read_notebook``, ``output``). Empty on purpose:
importing a submodule must not import the rest.
"""
