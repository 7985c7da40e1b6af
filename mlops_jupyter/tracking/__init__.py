"""Tracking: the runtime API behind ``mlops.log_metric`` & co. (``runtime``), data versions
(``datasets``) and the optional MLflow mirror. Empty on purpose: see ``mlops_jupyter/__init__``."""
